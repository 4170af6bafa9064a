"""Which cloud SDKs a plan imports, each plan in a process of its own (DESIGN §3: a stack for one
cloud imports no other cloud's SDK).

A fresh interpreter per plan spent about 2 s of each probe importing Pulumi, gRPC and fleetform
before any stack code ran. The probe server imports those once, shows that no cloud SDK came with
them and that no thread runs (a fork copies only the calling thread), then forks a child per plan:
each child starts from exactly what every plan imports anyway, and what it adds is the stack's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Optional

from tests.conftest import ROOT

CLOUD_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")

SERVER = r"""
import json, os, sys, threading
from fleetform.plan.engine import plan
import fleetform.fleet

CLOUDS = json.loads(sys.argv[1])


def loaded():
    return sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in CLOUDS})


print(json.dumps({"loaded": loaded(), "threads": threading.active_count()}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = plan(request["stack"], config=request.get("config"))
            report = {"loaded": loaded(), "exit": result.exit_code,
                      "types": sorted({r.type for r in result.capture.registrations}),
                      "resources": len(result.capture.registrations)}
        except BaseException as exc:
            report = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as out:
            out.write(json.dumps(report))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    print(text if status == 0 else json.dumps({"error": f"the plan's process ended with status {status}"}), flush=True)
"""


class ImportProbe:
    """Plans in forked children of one clean server process; ``plan`` returns what the child saw."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(CLOUD_SDKS)], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready = self._answer()
        # The base every child starts from: nothing of a cloud's, one thread to copy.
        assert ready == {"loaded": [], "threads": 1}, ready

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the probe server ended (exit {self.proc.poll()})"
        return json.loads(line)

    def plan(self, stack: str, config: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"stack": stack, "config": config}) + "\n")
        self.proc.stdin.flush()
        report = self._answer()
        assert "error" not in report, report["error"]
        return report

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)

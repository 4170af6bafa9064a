#!/usr/bin/env python3
"""After `pulumi up -s local` on kind: every fleetform service answers its health path.

    python3 ci/e2e_check.py [--namespace fleetform] [--outputs clusters.json] [--timeout 180]

For each Deployment fleetform made (label app.kubernetes.io/part-of=fleetform) it reads the
health path from the container's readiness probe and the Service of the same name, then GETs
    http://<load balancer address>:<service port><path>  for LoadBalancer Services (expose public
                                                          or internal), from the runner itself;
    http://127.0.0.1:<local port><path>                  for ClusterIP Services (expose cluster),
                                                          through `kubectl port-forward`;
and wants a 2xx answer within --timeout seconds. With --outputs (the stack output `clusters` as
`pulumi stack output clusters --json` prints it), each load-balanced service's address in the
stack output must be the Service's load balancer address too.

Only the kind end-to-end workflow runs this (.github/workflows/e2e-kind.yml): it needs kubectl, a
cluster and addresses reachable from the runner. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

PART_OF = "app.kubernetes.io/part-of=fleetform"


def kubectl_json(*args: str) -> Any:
    out = subprocess.run(["kubectl", *args, "-o", "json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def health_path(deployment: dict[str, Any]) -> Optional[str]:
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
        if probe.get("path"):
            return probe["path"]
    return None


def lb_address(service: dict[str, Any]) -> Optional[str]:
    for entry in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if entry.get("ip") or entry.get("hostname"):
            return entry.get("ip") or entry.get("hostname")
    return None


def get(url: str, deadline: float) -> tuple[bool, str]:
    """GET until a 2xx answer or the deadline; (ok, what happened last)."""
    last = "no attempt"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (http on a test cluster)
                if 200 <= resp.status < 300:
                    return True, f"HTTP {resp.status}"
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        left = deadline - time.monotonic()
        if left <= 0:
            return False, last
        time.sleep(min(3.0, left))


def port_forward(namespace: str, name: str, port: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(["kubectl", "port-forward", "-n", namespace, f"svc/{name}", f"0:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:43567 -> 8080"
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.terminate()
        raise RuntimeError(f"kubectl port-forward svc/{name}: {line.strip() or 'no output'}")
    return proc, int(m.group(1))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="fleetform")
    parser.add_argument("--outputs", help="the stack output `clusters` as JSON (pulumi stack output clusters --json)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each service")
    args = parser.parse_args(argv)

    deployments = kubectl_json("get", "deployments", "-n", args.namespace, "-l", PART_OF)["items"]
    if not deployments:
        print(f"no fleetform Deployment in namespace {args.namespace}", file=sys.stderr)
        return 1
    outputs: dict[str, Any] = json.loads(Path(args.outputs).read_text(encoding="utf-8")) if args.outputs else {}
    published = {svc: addr for cluster in outputs.values() for svc, addr in (cluster.get("services") or {}).items()}

    results: list[tuple[str, bool, str]] = []
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        path = health_path(deployment)
        if path is None:
            results.append((name, False, "no HTTP readiness probe to take the health path from"))
            continue
        service = kubectl_json("get", "service", name, "-n", args.namespace)
        port = service["spec"]["ports"][0]["port"]
        deadline = time.monotonic() + args.timeout
        if service["spec"]["type"] == "LoadBalancer":
            while (address := lb_address(service)) is None and time.monotonic() < deadline:
                time.sleep(3)
                service = kubectl_json("get", "service", name, "-n", args.namespace)
            if address is None:
                results.append((name, False, "LoadBalancer Service got no address (is cloud-provider-kind running?)"))
                continue
            if name in published and address not in str(published[name]):
                results.append((name, False, f"stack output says {published[name]}, the Service has {address}"))
                continue
            url = f"http://{address}:{port}{path}"
            ok, what = get(url, deadline)
            results.append((name, ok, f"{url} through the load balancer: {what}"))
        else:
            proc, local = port_forward(args.namespace, name, port)
            try:
                url = f"http://127.0.0.1:{local}{path}"
                ok, what = get(url, deadline)
                results.append((name, ok, f"{path} through kubectl port-forward svc/{name} ({service['spec']['type']}): {what}"))
            finally:
                proc.terminate()
                proc.wait(timeout=10)

    lines = [f"{'ok  ' if ok else 'FAIL'} {name}: {what}" for name, ok, what in results]
    print("\n".join(lines))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write("### Health through each service's address\n\n" + "\n".join(f"- `{line}`" for line in lines) + "\n")
    return 0 if results and all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

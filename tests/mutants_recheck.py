"""Re-check mutmut mutants in one process: ``make mutants-recheck MUTANTS=<folder> NAMES=<file> TESTS=...``.

For each mutant name in NAMES (one per line, as ``mutmut results`` prints them) the TESTS run with
mutmut's own switch set (``MUTANT_UNDER_TEST``, which its trampolines read on every call) and
``-x``; a failing run kills the mutant. Runs from ``<folder>/mutants`` with the mutated sources first
on ``sys.path``, as mutmut does. A control (no mutant, then a name that does not exist) must pass
before and after the mutants, or nothing is reported as killed. Docs: docs/mutation-testing.md.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys

import pytest

ARGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest"]
TIMEOUT = int(os.environ.get("RECHECK_TIMEOUT", "120"))
"""Seconds a mutant's tests may take; past it the mutant is reported as a timeout (a mutant that
makes a plan wait forever, say)."""


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def _run(mutant: str, tests: list[str]) -> int:
    """pytest's exit code for ``tests`` with ``mutant`` active; -1 when they outlast TIMEOUT."""
    os.environ["MUTANT_UNDER_TEST"] = mutant
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(pytest.main([*ARGS, *tests]))
    except _Timeout:
        return -1
    finally:
        signal.alarm(0)


def main(names_file: str, tests: list[str]) -> int:
    sys.path.insert(0, "src")
    names = [line.strip() for line in open(names_file, encoding="utf-8") if line.strip()]
    if _run("", tests) != 0 or _run("fleetform.x_no_such_mutant__mutmut_1", tests) != 0:
        print("control: the tests fail without a mutant; nothing can be judged", flush=True)
        return 2
    counts = {"killed": 0, "survived": 0, "timeout": 0, "error": 0}
    for name in names:
        rc = _run(name, tests)
        verdict = {0: "survived", 1: "killed", -1: "timeout"}.get(rc, "error")
        counts[verdict] += 1
        print(verdict, name, flush=True)
    if _run("", tests) != 0:
        print("control: the tests fail after the run; the verdicts above are not to be trusted", flush=True)
        return 2
    print(" ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))

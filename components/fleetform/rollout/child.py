"""One ``pulumi up`` of one stack, in a process of its own (``fleetform.rollout.run`` starts it).

An Automation API ``up`` cannot be aborted in-process; in a child, SIGINT reaches the Pulumi CLI,
which cancels cleanly. Exit 0 done, 75 the stack is locked by another update, 1 any other failure.
"""

from __future__ import annotations

import sys


def main(stack: str, work_dir: str) -> int:
    import signal

    from pulumi import automation as auto

    # The rollout signals this process's whole group: the Pulumi CLI (our child) cancels on the
    # SIGINT; this process keeps reading its output until it has (a handler, not SIG_IGN, so the
    # CLI does not inherit an ignored SIGINT).
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        auto.select_stack(stack_name=stack, work_dir=work_dir).up(on_output=print)
    except auto.ConcurrentUpdateError as exc:
        print(str(exc).splitlines()[-1] if str(exc) else "locked", flush=True)
        return 75
    except auto.CommandError as exc:
        print("\n".join(str(exc).splitlines()[-20:]), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

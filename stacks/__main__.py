"""Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: stacks/).

The whole program lives in fleetform.fleet.program, which `fleetform plan` also runs offline.
"""

import sys
from pathlib import Path

# `make setup` installs fleetform into the project's venv; this keeps a plain checkout working
# too (the language host puts only stacks/ on sys.path; the package's source is components/fleetform,
# and the Kubernetes version table it reads is in policies/fleetform_policies).
_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT / "components"), str(_ROOT / "policies")]

from fleetform.fleet import program  # noqa: E402

program()

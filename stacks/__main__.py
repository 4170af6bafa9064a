"""Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: stacks/).

The whole program lives in fleetform.fleet.program, which `fleetform plan` also runs offline.
"""

import sys
from pathlib import Path

# `make setup` installs fleetform into the project's venv; this keeps a plain checkout working
# too (the language host puts only stacks/ on sys.path; the package's source is components/fleetform).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "components"))

from fleetform.fleet import program  # noqa: E402

program()

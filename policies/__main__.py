"""The policy pack program: `pulumi preview --policy-pack policies` starts it in its own venv
(built from policies/requirements.txt). The only place that constructs the PolicyPack."""

import sys
from pathlib import Path

# The rules live in the `policies` package next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.pack import build_pack  # noqa: E402

build_pack()

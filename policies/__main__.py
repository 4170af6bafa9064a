"""The policy pack program: `pulumi preview --policy-pack policies` starts it in its own venv
(built from policies/requirements.txt). The only place that constructs the PolicyPack."""

import sys
from pathlib import Path

# The rules live in `fleetform.policy` (components/fleetform/policy). fleetform's package
# __init__ imports nothing eagerly, so the rules need only what requirements.txt installs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "components"))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from fleetform.policy.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.ADVISORY, policies=policies())

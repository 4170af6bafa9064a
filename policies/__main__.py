"""The policy pack program: `pulumi preview --policy-pack policies` starts it in its own venv
(built from policies/requirements.txt). The only place that constructs the PolicyPack."""

import sys
from pathlib import Path

# The rules live next to this file, in `fleetform_policies`, which imports nothing of the rest of
# fleetform: the pack is self-contained (what `pulumi policy publish` uploads is this folder) and
# needs only what requirements.txt installs.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from fleetform_policies.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.ADVISORY, policies=policies())

"""The config package: its modules and public names, node taints in kubectl's string form, node
pool bounds."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import fleetform.config
from fleetform.config import FleetConfigError, Taint, load_spec
from tests.conftest import ROOT, cluster, fleet

CONFIG_DIR = Path(fleetform.config.__file__).parent
MODULES = ("errors", "values", "nodes", "cluster", "onprem", "service", "fleet", "loading")

# The onprem host key and a valid onprem cluster (as in tests/test_onprem.py).
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgKCvDeCFjbxSWnegh4QZ9OtMRv5xD8Iy7tzTeyKNib"

# What a user reads for a taint written in none of the accepted forms.
TAINT_FORMS = (
    "key=value:Effect or key:Effect (kubectl taint's form), or a mapping of key, value and effect; "
    "Effect one of NoSchedule, PreferNoSchedule, NoExecute; "
    "key a label key such as dedicated or example.com/role; "
    "value at most 63 letters, digits, '-', '_', '.'"
)


def _pool_config(taints=None, **pool):
    pool = {"name": "g", "size": "m6i.large", **pool}
    if taints is not None:
        pool["taints"] = taints
    return fleet([cluster("c1", "aws", nodePools=[pool])], [])


def _onprem_config(taints):
    host = {"name": "m1", "address": "192.0.2.11", "role": "master", "hostKey": HOST_KEY, "taints": taints}
    return fleet([cluster("dc", "onprem", hosts=[host])], [], sshPrivateKey="[secret]")


def _problems(config) -> list[str]:
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    return info.value.problems


# ------------------------------------------------------------------------------ the package


def test_every_module_says_what_it_holds_and_stays_small():
    for name in MODULES:
        source = (CONFIG_DIR / f"{name}.py").read_text()
        assert ast.get_docstring(ast.parse(source)), f"{name}.py has no module docstring"
        assert len(source.splitlines()) <= 500, f"{name}.py has grown past 500 lines"


def test_the_names_other_code_imports_are_exported():
    used = {
        "ClusterSpec", "FleetConfigError", "load_spec", "NodePoolSpec", "Taint", "ServiceSpec", "FleetSpec",
        "SUPPORTED_KUBERNETES_VERSIONS", "DEFAULT_KUBERNETES_VERSION", "SECRET_KEYS", "LIST_KEYS",
        "LoadBalancerSpec", "SshSpec", "HostSpec", "ExistingSpec", "InstallSpec", "DEFAULT_NODE_SIZE",
        "DEFAULT_DENY_POLICY", "NAMESPACE", "K3S_NETWORKS", "AKS_SYSTEM_NODES",
    }
    assert used <= set(fleetform.config.__all__)
    assert all(hasattr(fleetform.config, name) for name in fleetform.config.__all__)


def test_importing_the_config_imports_no_pulumi_or_cloud_sdk():
    code = ("import sys, fleetform.config; "
            "print(sorted(m for m in sys.modules if m.startswith(('pulumi', 'boto', 'google', 'azure'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ taints


@pytest.mark.parametrize("text,key,value,effect", [
    ("dedicated=gpu:NoSchedule", "dedicated", "gpu", "NoSchedule"),
    ("example.com/role=batch:NoExecute", "example.com/role", "batch", "NoExecute"),
    ("spot:PreferNoSchedule", "spot", "", "PreferNoSchedule"),
    ("example.com/maintenance:NoSchedule", "example.com/maintenance", "", "NoSchedule"),
    ("spot=:NoSchedule", "spot", "", "NoSchedule"),  # kubectl takes an empty value after '='
])
def test_a_node_pool_taint_may_be_written_as_kubectl_writes_it(text, key, value, effect):
    pool = load_spec(_pool_config([text])).clusters[0].effective_node_pools[0]
    assert pool.taints == [Taint(key=key, value=value, effect=effect)]
    assert (pool.taints[0].key, pool.taints[0].value, pool.taints[0].effect) == (key, value, effect)


def test_string_and_mapping_taints_make_the_same_spec():
    as_text = load_spec(_pool_config(["dedicated=gpu:NoSchedule", "spot:PreferNoSchedule"]))
    as_mappings = load_spec(_pool_config([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                                          {"key": "spot", "effect": "PreferNoSchedule"}]))
    assert as_text == as_mappings


def test_an_onprem_host_takes_both_string_forms_and_mappings():
    spec = load_spec(_onprem_config(["dedicated=db:NoExecute", "maintenance:NoSchedule",
                                     {"key": "zone", "value": "a", "effect": "PreferNoSchedule"}]))
    assert spec.clusters[0].hosts is not None
    assert spec.clusters[0].hosts[0].taints == [
        Taint(key="dedicated", value="db", effect="NoExecute"),
        Taint(key="maintenance", value="", effect="NoSchedule"),
        Taint(key="zone", value="a", effect="PreferNoSchedule"),
    ]


@pytest.mark.parametrize("text", [
    "a=b",                 # no effect
    "a=b:Bogus",           # not an effect
    "=b:NoSchedule",       # no key
    "a b:NoSchedule",      # a space in the key
    "a:NoSchedule-",       # kubectl's removal form, not a taint
    "a=b=c:NoSchedule",    # two '='
    "a=b c:NoExecute",     # a space in the value
    "a:b:NoSchedule",      # two ':'
    "",
])
def test_a_bad_taint_string_on_a_node_pool_is_one_line_with_the_accepted_forms(text):
    assert _problems(_pool_config([text])) == [
        f'fleetform:clusters[0].nodePools[0].taints[0]: got "{text}"; allowed: {TAINT_FORMS}'
    ]


@pytest.mark.parametrize("text", ["a=b", "a=b:Bogus", "=b:NoSchedule", "a b:NoSchedule"])
def test_a_bad_taint_string_on_an_onprem_host_is_one_line_with_the_accepted_forms(text):
    assert _problems(_onprem_config(["ok:NoSchedule", text])) == [
        f'fleetform:clusters[0].hosts[0].taints[1]: got "{text}"; allowed: {TAINT_FORMS}'
    ]


def test_a_taint_mapping_with_an_unknown_key_names_the_keys_it_takes():
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule", "colour": "red"}
    assert _problems(_pool_config([taint])) == [
        "fleetform:clusters[0].nodePools[0].taints[0].colour: unknown key; allowed keys: effect, key, value"
    ]
    assert _problems(_onprem_config([taint])) == [
        "fleetform:clusters[0].hosts[0].taints[0].colour: unknown key; allowed keys: effect, key, value"
    ]


def test_a_taint_that_is_neither_text_nor_a_mapping_names_the_accepted_forms():
    assert _problems(_pool_config([3])) == [
        f"fleetform:clusters[0].nodePools[0].taints[0]: got 3; allowed: {TAINT_FORMS}"
    ]


def test_taints_are_still_a_list():
    assert _problems(_pool_config("a:NoSchedule")) == [
        'fleetform:clusters[0].nodePools[0].taints: got "a:NoSchedule"; allowed: a list'
    ]


def test_a_bad_part_of_a_taint_mapping_is_still_named_by_its_key():
    taint = {"key": "a b", "effect": "NoSchedule"}
    assert _problems(_pool_config([taint])) == [
        'fleetform:clusters[0].nodePools[0].taints[0].key: got "a b"; allowed: a Kubernetes label key such as '
        "dedicated or example.com/role"
    ]


# ------------------------------------------------------------------------------ node pool bounds


def test_a_node_pool_of_fixed_size_is_accepted():
    pool = load_spec(_pool_config(min=3, max=3)).clusters[0].effective_node_pools[0]
    assert (pool.min, pool.max) == (3, 3)


def test_a_node_pool_min_above_max_is_one_line_naming_min():
    assert _problems(_pool_config(min=4, max=3)) == [
        "fleetform:clusters[0].nodePools[0].min: got 4; allowed: at most max (3)"
    ]

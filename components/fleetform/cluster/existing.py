"""Target ``existing``: a cluster fleetform does not provision, reached through a kubeconfig."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import pulumi
import yaml

from ..config import ClusterSpec, ExistingSpec, FleetConfigError
from .base import Cluster, ClusterContext


def _kubeconfig_path(spec: ExistingSpec) -> Optional[Path]:
    if spec.kubeconfig:
        return Path(os.path.expanduser(spec.kubeconfig))
    env = os.environ.get("KUBECONFIG", "")
    first = env.split(os.pathsep)[0] if env else ""
    return Path(first) if first else Path.home() / ".kube" / "config"


def _server_of(text: str, context: Optional[str]) -> Optional[str]:
    """The API server URL of ``context`` (default: current-context) in a kubeconfig, if found,
    without any user:password in it (the endpoint is a plain output)."""
    try:
        doc = yaml.safe_load(text) or {}
        ctx_name = context or doc.get("current-context")
        ctx = next(c["context"] for c in doc.get("contexts") or [] if c.get("name") == ctx_name)
        server = next(c["cluster"]["server"] for c in doc.get("clusters") or [] if c.get("name") == ctx["cluster"])
    except (yaml.YAMLError, StopIteration, KeyError, TypeError, AttributeError):
        return None
    return re.sub(r"(?<=//)[^/@]*@", "", server) if isinstance(server, str) else None


def _read_kubeconfig(path: Optional[Path]) -> tuple[str, Optional[str]]:
    """The kubeconfig's text ("" when there is no such file) and why it cannot be used, if so."""
    if path is None or not path.is_file():
        return "", None
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as exc:
        return "", f"not UTF-8 text (byte offset {exc.start})"
    except OSError as exc:
        return "", f"cannot be read: {exc.strerror or exc}"


class ExistingCluster(Cluster):
    """An existing cluster (kind, k3d, minikube, Docker Desktop, or any other) from a kubeconfig.

    Nothing is provisioned. The provider is given the kubeconfig *path* (or none, meaning the
    current kube context) and the context name: inputs that stay the same when the credentials in
    the file rotate. ``kubeconfig`` is the file's content, as a secret, or "" when no file exists.
    """

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:ExistingCluster", name, opts)
        existing = spec.existing or ExistingSpec()
        path = _kubeconfig_path(existing)
        text, unusable = _read_kubeconfig(path)
        if unusable and existing.kubeconfig:  # configured: the stack's problem
            raise FleetConfigError([f"cluster {spec.name}: existing.kubeconfig {path}: {unusable}; allowed: a readable "
                                    "UTF-8 kubeconfig file"])
        self.target = "existing"
        self.self_managed = False
        self.kubernetes_version = ctx.kubernetes_version
        self.provider = self._make_provider(
            kubeconfig=os.path.expanduser(existing.kubeconfig) if existing.kubeconfig else None,
            context=existing.context,
        )
        self.kubeconfig = pulumi.Output.secret(text)
        # Where the kubeconfig (or its context) is not on the machine running this, say so.
        server = _server_of(text, existing.context)
        if server is None:
            server = (f"(kubeconfig {path} unusable here: {unusable})" if unusable  # $KUBECONFIG's, not the stack's
                      else f"(no kubeconfig at {path} here)" if not text
                      else f"(no context {existing.context} in {path})" if existing.context
                      else "(current kube context)")
        self.endpoint = pulumi.Output.from_input(server)
        self._publish()

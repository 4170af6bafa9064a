"""The k3s bootstrap shared by every self-managed cluster (DESIGN §3).

- :mod:`.versions`: the Kubernetes minor -> pinned k3s release table;
- :mod:`.script`: one node's bootstrap, rendered as a POSIX script for cloud-init user data or
  for standard input over SSH, plus the uninstall, drain and API readiness commands;
- :mod:`.identity`: :class:`~.identity.ClusterIdentity`, the CAs, admin certificate and join
  tokens Pulumi mints so nothing is ever read back from a machine (import it explicitly: it
  loads the tls and random providers' SDKs).
"""

from .script import (
    InstallSource,
    NodeBootstrap,
    api_url,
    config_sha256,
    drain_command,
    drain_script,
    readiness_probe,
    render_cloud_init,
    render_script,
    ssh_command,
    uninstall_command,
    uninstall_script,
)
from .versions import K3S_RELEASES, k3s_release

__all__ = [
    "InstallSource",
    "K3S_RELEASES",
    "NodeBootstrap",
    "api_url",
    "config_sha256",
    "drain_command",
    "drain_script",
    "k3s_release",
    "readiness_probe",
    "render_cloud_init",
    "render_script",
    "ssh_command",
    "uninstall_command",
    "uninstall_script",
]

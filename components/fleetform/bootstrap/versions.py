"""The one table mapping a Kubernetes minor version to the k3s release every self-managed node installs.

A cluster pins a *release*, not a channel: two hosts installed a month apart run the same bits,
and a re-run of the bootstrap never upgrades behind the user's back. Raising a pin here is a
deliberate upgrade that every self-managed cluster of that minor picks up on its next `up`.

Release names as published in the k3s release notes (https://docs.k3s.io/release-notes/v1.37.X
and siblings), checked 2026-12-02: v1.37.1+k3s1 and v1.36.5+k3s1 are in the official notes
(2026-09-30); v1.35.9+k3s1 is the 1.35 release of the same day
(https://github.com/k3s-io/k3s/releases/tag/v1.35.9%2Bk3s1). The minors a self-managed cluster may
use are the k3s row of ``fleetform_policies/kubernetes_versions.json``: 1.35-1.37, and 1.32-1.34
only as steps of a one-minor-at-a-time upgrade (https://docs.k3s.io/upgrades/manual). The v1.32
and v1.33 pins are the January 2026 "k3s3" releases that carry etcd v3.5.26, which the k3s notes
require before any upgrade to v1.34 (etcd 3.6).
"""

from __future__ import annotations

K3S_RELEASES: dict[str, str] = {
    "1.32": "v1.32.11+k3s3",
    "1.33": "v1.33.7+k3s3",
    "1.34": "v1.34.3+k3s1",
    "1.35": "v1.35.9+k3s1",
    "1.36": "v1.36.5+k3s1",
    "1.37": "v1.37.1+k3s1",
}
"""Kubernetes minor version -> pinned k3s release (INSTALL_K3S_VERSION)."""


def k3s_release(kubernetes_version: str) -> str:
    """The pinned k3s release for a Kubernetes minor version such as "1.32".

    Config validation only admits supported minors, so a miss here is a programming error (a
    minor added to ``SUPPORTED_KUBERNETES_VERSIONS`` without a pin), reported as such.
    """
    try:
        return K3S_RELEASES[kubernetes_version]
    except KeyError:
        raise KeyError(
            f"no pinned k3s release for Kubernetes {kubernetes_version}; add one to "
            "components/fleetform/bootstrap/versions.py:K3S_RELEASES"
        ) from None

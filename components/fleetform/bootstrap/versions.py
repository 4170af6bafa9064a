"""The one table mapping a Kubernetes minor version to the k3s release every self-managed node installs.

A cluster pins a *release*, not a channel: two hosts installed a month apart run the same bits,
and a re-run of the bootstrap never upgrades behind the user's back. Raising a pin here is a
deliberate upgrade that every self-managed cluster of that minor picks up on its next `up`.

Release names as published in the k3s release notes (https://docs.k3s.io/release-notes/v1.32.X
and siblings). The v1.32 and v1.33 pins are the January 2026 "k3s3" releases that carry etcd
v3.5.26, which the k3s notes require before any upgrade to v1.34 (etcd 3.6).
"""

from __future__ import annotations

K3S_RELEASES: dict[str, str] = {
    "1.29": "v1.29.15+k3s1",
    "1.30": "v1.30.13+k3s1",
    "1.31": "v1.31.14+k3s1",
    "1.32": "v1.32.11+k3s3",
    "1.33": "v1.33.7+k3s3",
    "1.34": "v1.34.3+k3s1",
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

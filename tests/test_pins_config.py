"""Config helpers pinned where they are made (issue 17), each expectation written from what the
message must tell the user, not read back from the code.

Image digests: an OCI digest is ``<algorithm>:<encoded>``, and sha256's encoded part is exactly
64 lower-case hex digits (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests:
"the encoded portion MUST match /[a-f0-9]{64}/").
"""

from __future__ import annotations

import pytest

from fleetform.config.service import _digest_problem

HEX64 = "0123456789abcdef" * 4


@pytest.mark.parametrize("image,problem", [
    ("ghcr.io/acme/web:1.0", None),  # no digest: not a digest problem
    (f"ghcr.io/acme/web@sha256:{HEX64}", None),
    # The digest is what follows the last '@' (a registry user@ in front does not count).
    (f"user@ghcr.io/acme/web@sha256:{HEX64}", None),
    (f"ghcr.io/acme/web@md5:{HEX64}", "digest does not start with sha256: (the only algorithm accepted)"),
    ("ghcr.io/acme/web@sha256:", "sha256 digest is empty, want 64 hex digits"),
    ("ghcr.io/acme/web@sha256:" + "z" * 64, 'sha256 digest has characters that are not hex digits: "z"'),
    # At most five offending characters are shown, sorted, each quoted once.
    ("ghcr.io/acme/web@sha256:" + "uvwxyzuvwxyz" + "a" * 52,
     'sha256 digest has characters that are not hex digits: "u" "v" "w" "x" "y"'),
    # Only the first ':' separates the algorithm; a later one is a bad character of the hex part.
    ("ghcr.io/acme/web@sha256:" + "a" * 32 + ":" + "a" * 31, 'sha256 digest has characters that are not hex digits: ":"'),
    # 'X' is no hex digit; upper-case A-F are, and are not listed among the bad characters.
    ("ghcr.io/acme/web@sha256:" + "X" + "a" * 63, 'sha256 digest has characters that are not hex digits: "X"'),
    ("ghcr.io/acme/web@sha256:" + "Ag" + "a" * 62, 'sha256 digest has characters that are not hex digits: "g"'),
    # Upper-case A-F are hex digits, only in the wrong case.
    ("ghcr.io/acme/web@sha256:" + HEX64.upper(), "sha256 digest has upper-case hex digits, want lower-case"),
    ("ghcr.io/acme/web@sha256:" + "ABCDEF" + "a" * 58, "sha256 digest has upper-case hex digits, want lower-case"),
    ("ghcr.io/acme/web@sha256:" + "a" * 63, "sha256 digest has 63 hex digits, want 64"),
    ("ghcr.io/acme/web@sha256:" + "a" * 65, "sha256 digest has 65 hex digits, want 64"),
])
def test_digest_problem_says_exactly_what_is_wrong(image, problem):
    assert _digest_problem(image) == problem

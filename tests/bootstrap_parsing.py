"""Reading a rendered k3s bootstrap script back in tests: the files it writes and the arguments
it gives the k3s installer (the script's own format, components/fleetform/bootstrap/script.py)."""

from __future__ import annotations

import base64
import shlex


def installer_args(script: str) -> list[str]:
    """The arguments of the `sh "$INSTALLER" \\` invocation, one per continued line."""
    block = script[script.index('sh "$INSTALLER" \\\n'):].split("\n")[1:]
    args = []
    for line in block:
        args.append(shlex.split(line.rstrip("\\").strip())[0])
        if not line.endswith("\\"):
            break
    return args


def files_of(script: str) -> dict[str, str]:
    """Path -> content of every `put_file` line (content base64 in the script)."""
    out = {}
    for line in script.splitlines():
        parts = shlex.split(line) if line.startswith("put_file") else []
        if len(parts) == 4:
            out[parts[1]] = base64.b64decode(parts[3]).decode()
    return out

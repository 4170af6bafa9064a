#!/usr/bin/env python3
"""The pull-request comment of one stack's plan: a marker line (which comment to update), a status
line, then `fleetform plan --markdown`'s report, cut to fit GitHub's comment limit.

    python3 ci/plan_comment.py STACK EXIT_CODE PLAN_MD OUT_MD

GitHub refuses a comment body over 65,536 characters: the REST API answers 422 "Body is too long
(maximum is 65536 characters)" (quoted in https://github.com/telia-oss/github-pr-resource/issues/259).
Lengths are counted here in UTF-16 code units, never fewer than characters, so the cut is safe
however GitHub counts an emoji.
`fleetform plan --markdown` already stays below that (docs/plan.md#--markdown); this cut is the
pipeline's own guarantee, with a note saying where the whole report is (the job's artifact).
Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

COMMENT_MAX = 65_536
"""GitHub's limit on a comment body, in characters."""
MARKER = "<!-- fleetform-plan:{stack} -->"
_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_STATUS = {
    0: "clean",
    1: "schema errors, mandatory policy violations or a cluster that could not be planned",
    2: "invalid config, stack file or arguments",
}


def _length(text: str) -> int:
    """Length in UTF-16 code units (what a browser's and most APIs' string length counts)."""
    return len(text.encode("utf-16-le")) // 2


def comment(stack: str, code: int, report: str, limit: int = COMMENT_MAX) -> str:
    """The whole comment body, at most ``limit`` characters."""
    if not _STACK.fullmatch(stack):
        raise ValueError(f"not a stack name: {stack!r}")
    status = _STATUS.get(code, f"the plan failed (exit {code})")
    icon = "✅" if code == 0 else "❌"
    head = f"{MARKER.format(stack=stack)}\n### {icon} `fleetform plan {stack}`: exit {code}, {status}\n\n"
    if not report.strip():
        report = "_No Markdown report was written: see the job's log._\n"
    body = head + report
    if _length(body) <= limit:
        return body
    note = (f"\n\n---\n_Cut to GitHub's {limit:,}-character comment limit: the whole report is the "
            f"`plan-{stack}` artifact of this run (`{stack}.md`, and `{stack}.json` with everything)._\n")
    fence = "```\n"
    # Cut at a line end, leaving room to close a code fence the cut left open (a Mermaid block).
    keep = body[: limit - len(note) - len(fence)]
    keep = keep[: keep.rfind("\n") + 1]
    while keep and _length(keep) + len(note) + len(fence) > limit:
        keep = keep[: keep.rfind("\n", 0, len(keep) - 1) + 1]
    if keep.count("```") % 2:
        keep += fence
    return keep + note


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    stack, code, source, out = argv
    path = Path(source)
    report = path.read_text(encoding="utf-8") if path.is_file() else ""
    Path(out).write_text(comment(stack, int(code), report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

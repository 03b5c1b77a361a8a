"""Run every example of the documentation and check its output.

Usage::

    python docs/check_examples.py            # README.md and docs/*.md
    python docs/check_examples.py docs/user-guide.md

In each Markdown file, in order and sharing one namespace per file (like a
notebook):

* ```` ```pycon ```` blocks are doctests: each ``>>>`` line runs and its
  output must match what the page shows (whitespace-normalised, ``...``
  allowed);
* ```` ```python ```` blocks are run, and must not raise;
* a block right after a ``<!-- check: skip -->`` line is not run.

It runs in a temporary directory, so examples may write files.  Exit status
1 when any example fails.
"""

from __future__ import annotations

import doctest
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(
    r"(?P<skip><!-- check: skip -->\s*\n)?^```(?P<lang>[\w-]+)[^\n]*\n(?P<code>.*?)^```[ \t]*$",
    flags=re.MULTILINE | re.DOTALL,
)
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def check_file(path: Path) -> tuple[int, int]:
    """Run the examples of one file; return (failures, examples run)."""
    text = path.read_text(encoding="utf-8")
    namespace: dict = {"__name__": "__main__"}
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    parser = doctest.DocTestParser()
    failed = tried = 0
    for match in FENCE.finditer(text):
        lang, code = match["lang"], match["code"]
        if match["skip"] or lang not in ("python", "pycon"):
            continue
        line = text.count("\n", 0, match.start("code"))  # 0-based line of the code
        where = f"{path.relative_to(ROOT)}:{line + 1}"
        if lang == "python":
            tried += 1
            try:
                exec(compile(code, where, "exec"), namespace)
            except Exception as exc:
                failed += 1
                print(f"FAILED {where}: {type(exc).__name__}: {exc}")
            continue
        test = parser.get_doctest(code, namespace, where, str(path), line)
        result = runner.run(test, clear_globs=False)
        namespace.update(test.globs)
        failed += result.failed
        tried += result.attempted
    return failed, tried


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] or [
        ROOT / "README.md",
        *sorted(ROOT.glob("docs/*.md")),
    ]
    total_failed = total = 0
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for path in files:
                failed, tried = check_file(path)
                total_failed += failed
                total += tried
                status = "ok" if not failed else f"{failed} FAILED"
                print(f"{path.relative_to(ROOT)}: {tried} examples, {status}")
        finally:
            os.chdir(cwd)
    print(f"{total} examples, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

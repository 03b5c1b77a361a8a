#!/usr/bin/env python
"""Rewrite the results tables of docs/performance.md from the committed benchmark JSON.

    python benchmarks/render_results.py           # rewrite the tables in place
    python benchmarks/render_results.py --check   # exit 1 (and show a diff) if they are stale

The tables are not written by hand.  A run saves them
(``python benchmarks/bench_gradient.py --markdown --json
benchmarks/results/bench_gradient.json``) and this script copies them into
the page, between markers that name a table of that JSON by its id::

    <!-- results:eager -->
    (generated: do not edit)
    <!-- /results:eager -->

An opening marker may add ``run=NAME`` (the JSON file
``benchmarks/results/NAME.json``; default ``bench_gradient``) and
``heading=N`` (the title as a heading of level N, default 4; 0 leaves it
out, for a table introduced by the page's own prose), e.g.
``<!-- results:eager run=bench_gradient_malloc_reuse heading=0 -->``.
Everything outside the markers is left alone.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

from harness import Table

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_RUN = "bench_gradient"
DEFAULT_HEADING = 4

_OPEN = re.compile(r"<!-- results:(?P<id>[\w.-]+)(?P<attrs>(?: +[\w-]+=[\w.-]+)*) *-->")
_BLOCK = re.compile(
    r"(?P<open><!-- results:(?P<id>[\w.-]+)(?P<attrs>(?: +[\w-]+=[\w.-]+)*) *-->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /results:(?P=id) -->)",
    re.DOTALL,
)


class RenderError(Exception):
    """A marker, a JSON file or a table that does not fit together."""


def load_run(results: Path, name: str, cache: dict[str, dict]) -> dict:
    if name not in cache:
        path = results / f"{name}.json"
        try:
            cache[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RenderError(f"no results file {path}") from None
        except json.JSONDecodeError as exc:
            raise RenderError(f"{path}: not JSON ({exc})") from None
    return cache[name]


def find_table(run: dict, run_name: str, table_id: str) -> Table:
    matches = [t for t in run.get("tables", []) if t.get("id") == table_id]
    if len(matches) != 1:
        ids = [t.get("id") for t in run.get("tables", [])]
        raise RenderError(
            f"{run_name}.json has {len(matches)} tables {table_id!r} (its ids: {ids})"
        )
    table = Table.from_json(matches[0])
    for row in table.rows:
        if len(row) != len(table.columns):
            raise RenderError(f"{run_name}.json, table {table_id!r}: a row of {len(row)} cells")
    return table


def parse_attrs(text: str) -> dict[str, str]:
    attrs = dict(pair.split("=", 1) for pair in text.split())
    unknown = set(attrs) - {"run", "heading"}
    if unknown:
        raise RenderError(f"unknown marker attribute(s) {sorted(unknown)}: use run= and heading=")
    return attrs


def render(doc: str, results: Path) -> str:
    """``doc`` with the body of every results block rewritten from the JSON in ``results``."""
    cache: dict[str, dict] = {}
    blocks = list(_BLOCK.finditer(doc))
    opened = len(_OPEN.findall(doc))
    if opened != len(blocks):
        raise RenderError(
            f"{opened} opening results markers but {len(blocks)} closed blocks: every "
            "'<!-- results:ID -->' needs its '<!-- /results:ID -->'"
        )

    def block(match: re.Match[str]) -> str:
        attrs = parse_attrs(match["attrs"])
        run_name = attrs.get("run", DEFAULT_RUN)
        try:
            heading = int(attrs.get("heading", DEFAULT_HEADING))
        except ValueError:
            raise RenderError(f"heading={attrs['heading']!r} is not a number") from None
        table = find_table(load_run(results, run_name, cache), run_name, match["id"])
        body = "\n" + table.render(markdown=True, heading=heading) + "\n"
        return match["open"] + body + match["close"]

    return _BLOCK.sub(block, doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    p.add_argument("--doc", type=Path, default=DOC, help="the page (docs/performance.md)")
    p.add_argument(
        "--results", type=Path, default=RESULTS, help="the JSON files (benchmarks/results)"
    )
    a = p.parse_args(argv)
    old = a.doc.read_text(encoding="utf-8")
    try:
        new = render(old, a.results)
    except RenderError as exc:
        print(f"render_results: {a.doc}: {exc}", file=sys.stderr)
        return 2
    blocks = len(_BLOCK.findall(old))
    if new == old:
        print(f"{a.doc}: {blocks} results tables up to date with {a.results}")
        return 0
    if a.check:
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"{a.doc} (as committed)",
            f"{a.doc} (rendered from {a.results})",
        )
        sys.stdout.writelines(list(diff)[:200])
        print(
            f"\n{a.doc} is out of date with {a.results}: run python benchmarks/render_results.py",
            file=sys.stderr,
        )
        return 1
    a.doc.write_text(new, encoding="utf-8")
    print(f"{a.doc}: rewrote {blocks} results tables from {a.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

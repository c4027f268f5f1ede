"""Throughput of the reviewer's deterministic rules on a large real Python codebase: the installed standard library.

    .venv/bin/python bench/reviewer_rules.py [PATH] [--limit N]

Every line of every file counts as changed (the worst case: a PR that adds the whole codebase). The baseline is a
plain `ast.parse` of the same files in the same run, so the figure is also given as a ratio that does not depend
on the machine."""

import argparse
import sysconfig
import time
from pathlib import Path

from reviewer.rules import ALL_RULES, Source
from reviewer.rules.index import build_index
from reviewer.rules.runner import run_rules


def load(root: Path, limit: int | None) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            compile(text, str(path), "exec", flags=0x400, dont_inherit=True)  # PyCF_ONLY_AST: keep parseable files
        except (SyntaxError, ValueError):  # the stdlib ships deliberately broken test files (badsyntax_*.py)
            continue
        files[str(path.relative_to(root))] = text
        if limit and len(files) >= limit:
            break
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--limit", type=int, default=None, help="Only the first N files.")
    args = parser.parse_args()
    files = load(Path(args.path), args.limit)
    lines = sum(t.count("\n") + 1 for t in files.values())

    started = time.perf_counter()
    for path, text in files.items():
        Source.parse(path, text)
    parse_s = time.perf_counter() - started

    started = time.perf_counter()
    sources = [Source.parse(p, t) for p, t in files.items()]
    index = build_index(sources)
    indexed_s = time.perf_counter() - started
    changed = {s.path: frozenset(range(1, len(s.lines) + 2)) for s in sources}
    findings = run_rules(sources, changed, index, ALL_RULES)
    total_s = time.perf_counter() - started

    per_rule = {r.id: sum(1 for f in findings if f.rule == r.id) for r in ALL_RULES}
    print(f"command: python bench/reviewer_rules.py {args.path}{f' --limit {args.limit}' if args.limit else ''}")
    print(f"corpus: {len(files)} files, {lines:,} lines")
    print(f"baseline ast.parse:        {lines / parse_s:>12,.0f} lines/s  ({parse_s:.2f}s)")
    print(f"parse + index:             {lines / indexed_s:>12,.0f} lines/s  ({indexed_s:.2f}s)")
    print(f"parse + index + 6 rules:   {lines / total_s:>12,.0f} lines/s  ({total_s:.2f}s)")
    print(f"ratio to ast.parse: {total_s / parse_s:.1f}x the time of parsing alone")
    print("findings: " + ", ".join(f"{k} {v}" for k, v in per_rule.items()))


if __name__ == "__main__":
    main()

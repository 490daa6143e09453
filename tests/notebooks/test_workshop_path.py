"""The workshop as a whole: the instructor's guide lists every notebook, the core path fits 90 minutes, and
its prose stays short enough to read in that time.

Prints the figures the issue asks for (run with `-s` to see them, or read artifacts/workshop-path.txt):
per core-path notebook its minutes, words of prose (markdown cells, tables included) and cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
GUIDE = NOTEBOOK_DIR / "README.md"
CORE_MINUTES = (80, 100)  # "about 90 minutes"
CORE_WORDS = 5_000  # "roughly 5,000 words of prose or fewer"
ROW = re.compile(r"^\| \[(?P<name>\d\d-[a-z0-9-]+)\]\((?P<link>[^)]+)\) \| (?P<minutes>\d+) \|", re.M)


def _guide_rows(section: str) -> dict[str, int]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    rows = {}
    for m in ROW.finditer(text[start : end if end != -1 else None]):
        assert m["link"] == f"{m['name']}.ipynb", f"the guide links {m['name']} to {m['link']}"
        rows[m["name"]] = int(m["minutes"])
    return rows


def _minutes_in(nb: nbformat.NotebookNode) -> int | None:
    m = re.search(r"\*(?:Deep-dive, )?[Aa]bout (\d+) minutes[.,]", nb.cells[0].source)
    return int(m[1]) if m else None


def test_the_guide_lists_every_notebook_with_the_minutes_the_notebook_says() -> None:
    core, deep = _guide_rows("## The core path"), _guide_rows("## Deep-dives")
    on_disk = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
    assert sorted(core) + sorted(deep) == on_disk, "notebooks/README.md and notebooks/ disagree"
    assert max(core) < min(deep), "the deep-dives come after the core path"
    assert any(name.endswith("-capstone") for name in core)
    for name, minutes in {**core, **deep}.items():
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        assert _minutes_in(nb) == minutes, f"{name} says {_minutes_in(nb)} minutes, the guide {minutes}"
    assert "urlpath=lab/tree/notebooks/00-quickstart.ipynb" in GUIDE.read_text(encoding="utf-8")


def test_the_core_path_fits_ninety_minutes_and_prints_its_size() -> None:
    core = _guide_rows("## The core path")
    lines = [f"{'notebook':28} {'min':>4} {'words':>6} {'cells':>6} {'code':>5} {'solutions':>9}"]
    total = {"minutes": 0, "words": 0, "cells": 0, "code": 0, "solutions": 0}
    for name, minutes in core.items():
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        words = sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
        code = [c for c in nb.cells if c.cell_type == "code"]
        solutions = [c for c in code if "solution" in c.metadata.get("tags", [])]
        row = {"minutes": minutes, "words": words, "cells": len(nb.cells), "code": len(code), "solutions": len(solutions)}
        for key in total:
            total[key] += row[key]
        lines.append(f"{name:28} {minutes:>4} {words:>6} {len(nb.cells):>6} {len(code):>5} {len(solutions):>9}")
    lines.append(f"{'core path':28} {total['minutes']:>4} {total['words']:>6} {total['cells']:>6} {total['code']:>5} {total['solutions']:>9}")
    report = "\n".join(lines)
    print("\n" + report)
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / "workshop-path.txt").write_text(report + "\n", encoding="utf-8")
    assert CORE_MINUTES[0] <= total["minutes"] <= CORE_MINUTES[1], report
    assert total["words"] <= CORE_WORDS, report

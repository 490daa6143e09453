"""The panels' front end: small ES modules in `static/`, joined into the one module anywidget loads.

anywidget hands the browser one ES module (`_esm`), which cannot import its siblings by relative
path. Rather than a bundler, each file in `static/` is a plain ES module (readable, checkable with
`node --check`) whose `import { a } from "./x.js"` lines name only siblings; `link()` wraps every
module but the entry in a function scope, turns its imports into destructuring of the sibling's
exports, and appends the entry module as it is. Nothing is fetched at run time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

__all__ = ["CSS", "ESM", "MODULES", "STATIC", "link"]

STATIC = Path(__file__).parent / "static"
# Dependency order: a module comes after every module it imports. panel.js is the entry.
MODULES = ("util.js", "tree.js", "bits.js", "table.js", "inspector.js", "sequence.js", "charts.js", "handshake.js", "panel.js")

_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([a-z]+)\.js";\s*$', re.M)
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)", re.M)


def _imports(match: re.Match[str]) -> str:
    names = [n.strip() for n in match.group(1).split(",") if n.strip()]
    parts = [f"{a.strip()}: {b.strip()}" if " as " in n else n for n in names for a, _, b in [n.partition(" as ")]]
    return f"const {{ {', '.join(parts)} }} = __{match.group(2)};"


def link(sources: dict[str, str], entry: str = "panel.js") -> str:
    """Join ES modules (name -> source, in dependency order) into one module; `entry` keeps its default export."""
    out = ["// wsplay panels: linked from wsplay/widgets/static/*.js (see wsplay/widgets/assets.py)"]
    for name, source in sources.items():
        body = _IMPORT.sub(_imports, source)
        if name == entry:
            out.append(f"// ---- {name}\n{body}")
            continue
        exported = [m.group(2) for m in _EXPORT.finditer(body)]
        body = _EXPORT.sub(lambda m: m.group(0)[len("export ") :], body)
        out.append(f"// ---- {name}\nconst __{name[:-3]} = (() => {{\n{body}\nreturn {{ {', '.join(exported)} }};\n}})();")
    return "\n".join(out) + "\n"


@cache
def _esm() -> str:
    return link({name: (STATIC / name).read_text(encoding="utf-8") for name in MODULES})


ESM = _esm()
CSS = (STATIC / "panel.css").read_text(encoding="utf-8")

"""Payload decoders the panels offer in their inspector: one registry for every host and client.

Built in: "json"; "msgpack" and "cbor" when `msgpack` / `cbor2` are installed (`pip install
wsplay[decoders]`). Register your own with `register(name, fn)` (or `host.decoder(name, fn)`,
`client.decoder(name, fn)`, which do the same): `fn(payload: bytes)` returns anything; a str is shown
as text, anything else as a tree. A decoder's exception is shown in the panel, never raised.

Example:
    wsplay.decoders.register("points", lambda b: struct.unpack("!2f", b))
    host.panel()  # the inspector now has a "points" view
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["available", "decode", "register", "to_tree", "unregister"]

_lock = threading.Lock()
_user: dict[str, Callable[[bytes], Any]] = {}
_version = [0]  # grows with every change, so a panel knows when to offer new names
MAX_ITEMS = 2000  # tree nodes sent to the browser for one payload; the rest is summarised


def _msgpack(payload: bytes) -> Any:
    import msgpack

    return msgpack.unpackb(payload, raw=False, strict_map_key=False)


def _cbor(payload: bytes) -> Any:
    import cbor2

    return cbor2.loads(payload)


def _json(payload: bytes) -> Any:
    return json.loads(payload.decode("utf-8"))


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def register(name: str, fn: Callable[[bytes], Any]) -> None:
    """Offer `fn` as the payload view `name` in every panel (replaces a decoder of that name)."""
    if not name or not isinstance(name, str):
        raise ValueError("a decoder needs a non-empty name, e.g. register('points', fn)")
    if not callable(fn):
        raise TypeError(f"the decoder {name!r} must be callable: fn(payload: bytes) -> anything")
    with _lock:
        _user[name] = fn
        _version[0] += 1


def unregister(name: str) -> None:
    """Remove a decoder registered with `register` (no error when there is none)."""
    with _lock:
        if _user.pop(name, None) is not None:
            _version[0] += 1


def version() -> int:
    return _version[0]


def _builtins() -> dict[str, Callable[[bytes], Any]]:
    found: dict[str, Callable[[bytes], Any]] = {"json": _json}
    if _installed("msgpack"):
        found["msgpack"] = _msgpack
    if _installed("cbor2"):
        found["cbor"] = _cbor
    return found


def available() -> list[str]:
    """The decoder names a panel offers: the built-in ones first, then yours in registration order."""
    with _lock:
        return list(_builtins()) + [n for n in _user if n not in ("json", "msgpack", "cbor")]


def decode(name: str, payload: bytes) -> dict[str, Any]:
    """Run decoder `name` on `payload`: {"ok": True, "text": str} or {"ok": True, "tree": ...}, or {"ok": False, "error": ...}."""
    with _lock:
        fn = _user.get(name) or _builtins().get(name)
    if fn is None:
        return {"ok": False, "error": f"no decoder named {name!r}; registered: {', '.join(available())}"}
    try:
        value = fn(bytes(payload))
    except Exception as exc:  # a user's decoder must never break the panel
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if isinstance(value, str):
        return {"ok": True, "text": value}
    budget = [MAX_ITEMS]
    return {"ok": True, "tree": to_tree(value, budget)}


def to_tree(value: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """A JSON-safe copy of a decoded value: bytes as {"$bytes": hex}, other objects by repr, bounded in size."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > 50:
        return {"$more": "…"}
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return {"$repr": str(value)}
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$repr": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return {"$bytes": data[:256].hex(" ") + (" …" if len(data) > 256 else "")}
    if isinstance(value, dict):
        return {str(k): to_tree(v, budget, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_tree(v, budget, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return {"$repr": repr(value)[:1000]}

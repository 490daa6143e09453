"""What the panels show of permessage-deflate (RFC 7692): a connection's extension and its ratios.

The frame table and the inspector get their compression fields with each frame (`frames.py`);
this module holds what belongs to a whole connection: the extension and parameters its handshake
agreed on (as the `Sec-WebSocket-Extensions` answer said them), and how much its compressed
messages shrank each way, from the recorder's counters.
"""

from __future__ import annotations

from typing import Any

from wsplay.observe import Counters

__all__ = ["compression_of", "extensions_of"]


def extensions_of(value: str | None) -> list[dict[str, Any]]:
    """A `Sec-WebSocket-Extensions` value as [{"name": ..., "params": ["a=1", "b"]}, ...] ([] for none).

    Example:
        extensions_of("permessage-deflate; client_max_window_bits=15")
        # [{'name': 'permessage-deflate', 'params': ['client_max_window_bits=15']}]
    """
    out = []
    for item in (value or "").split(","):
        name, *params = (p.strip() for p in item.split(";"))
        if name:
            out.append({"name": name, "params": [p.replace(" ", "") for p in params if p]})
    return out


def _way(wire: int, inflated: int) -> dict[str, Any] | None:
    if not inflated and not wire:
        return None
    return {"wire": wire, "inflated": inflated, "ratio": round(wire / inflated, 4) if inflated else None}


def compression_of(counters: Counters) -> dict[str, Any]:
    """{"in": {"wire", "inflated", "ratio"} | None, "out": ...}: compressed payload bytes as they went
    over the wire and what they inflated to, each way; None for a way nothing compressed went."""
    return {"in": _way(counters.deflated_in, counters.inflated_in), "out": _way(counters.deflated_out, counters.inflated_out)}

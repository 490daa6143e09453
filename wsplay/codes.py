"""Close codes and their names (RFC 6455 section 7.4): the bottom of the package, importing nothing of it."""

from __future__ import annotations

__all__ = ["CLOSE_CODE_NAMES", "close_code_allowed", "close_code_name"]

CLOSE_CODE_NAMES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status received",
    1006: "abnormal closure",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure",
}


def close_code_name(code: int) -> str:
    """Name a close code the way RFC 6455 section 7.4 does ("going away")."""
    if code in CLOSE_CODE_NAMES:
        return CLOSE_CODE_NAMES[code]
    if 3000 <= code < 4000:
        return "registered"
    if 4000 <= code < 5000:
        return "private use"
    return "unknown"


def close_code_allowed(code: int) -> bool:
    """Tell whether a close code may appear in a close frame on the wire (RFC 6455 7.4)."""
    # 1004-1006 and 1015 are reserved for local use; 1016-2999 are unassigned; 0-999 and >= 5000 unused.
    if 1000 <= code <= 1014:
        return code not in (1004, 1005, 1006)
    return 3000 <= code < 5000

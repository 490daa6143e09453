"""Which browser pages may open a WebSocket to us: the defence against cross-site WebSocket hijacking.

Browsers send `Origin` with every WebSocket handshake but do not apply the same-origin policy to
WebSockets, so any page a user has open could connect to a server on their laptop. The default
policy accepts what a playground needs and nothing else: requests without Origin (non-browser
clients), `null` (a page opened from a file, as in the seed), pages on the same host as the server,
and pages on localhost.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["LOCAL_HOSTS", "OriginPolicy"]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# What a browser sends is always a serialized origin (RFC 6454 6.2): scheme "://" host [":" port],
# lowercased here. Anything else (userinfo, a path, a backslash, two origins) is not parsed for a
# host name that might look local: `http://evil.test\@localhost` is evil.test to a browser.
_SERIALIZED = re.compile(r"[a-z][a-z0-9+.\-]*://(\[[0-9a-f:.]+\]|[a-z0-9\-._]+)(:[0-9]{1,5})?")


def _host_of(value: str) -> str:
    """The host name of an origin or a Host header, lowercased, without port or brackets."""
    if "://" not in value:
        value = "//" + value
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return ""
    return (host or "").lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass
class OriginPolicy:
    """Decide whether a handshake's Origin header is acceptable.

    Attributes:
        allowed: extra origins to accept, exactly as browsers send them ("https://example.org:8443").
        any_origin: accept every origin (only for servers meant to be reached from anywhere).
        trust_proxy: accept every origin because only an authenticating proxy can reach us
            (JupyterHub/Binder: the browser talks to jupyter-server-proxy, which connects here).
    """

    allowed: set[str] = field(default_factory=set)
    any_origin: bool = False
    trust_proxy: bool = False

    def allow(self, origins: Iterable[str]) -> None:
        self.allowed.update(o.rstrip("/").lower() for o in origins)

    def check(self, origin: str | None, host_header: str | None, loopback: bool = True) -> str | None:
        """Return None when `origin` may connect, else why not (a sentence that says how to allow it).

        `loopback` says the server listens on a loopback address only; then a page on the "same host"
        must also name that host as a local name or an IP address, which shuts out DNS rebinding (a
        hostile name that resolves to 127.0.0.1 would otherwise count as the same host).
        """
        if origin is None or self.any_origin or self.trust_proxy:
            return None
        normalized = origin.strip().rstrip("/").lower()
        if normalized == "null" or normalized in self.allowed:
            return None
        host = _host_of(normalized) if _SERIALIZED.fullmatch(normalized) else ""
        if host in LOCAL_HOSTS:
            return None
        if host and host == _host_of(host_header or "") and (not loopback or _is_ip(host)):
            return None
        return (
            f"origin {origin!r} is not allowed: a page from another site may not open a WebSocket to this "
            f"server; allow it with .allowed_origins([{origin!r}]) or accept all with .allow_any_origin()"
        )

"""`ClientPanel`: drive a `wsplay.Client` from buttons, including frames that break RFC 6455 on purpose."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from wsplay.observe import ConnectionOpened, Recorder
from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.deflate import compression_of, extensions_of
from wsplay.widgets.refresh import LivePanel, assign, handshake_of

__all__ = ["ClientPanel"]

OPCODES = [[op, f"{op:#x} {FrameType(op).name}" if op in (0, 1, 2, 8, 9, 10) else f"{op:#x} reserved"] for op in range(16)]


def payload_bytes(text: str, as_hex: bool) -> bytes:
    if not as_hex:
        return text.encode("utf-8")
    try:
        return bytes.fromhex(text.replace(" ", "").replace(":", ""))
    except ValueError:
        raise ValueError(f"the payload is marked as hex but is not: {text[:40]!r} (write bytes like '01 ff 7e')") from None


class ClientPanel(LivePanel):
    """Connect to a URL (or take a connected `wsplay.Client`), send anything, and watch the frames.

    Args:
        url_or_client: a ws:// URL to connect to with the Connect button, or a `wsplay.Client`.
        **options: passed to `wsplay.connect()` when the panel connects (e.g. ping_interval=5).

    Example:
        ClientPanel(host.url)
    """

    def __init__(self, url_or_client: Any = "", **options: Any) -> None:
        super().__init__(kind="client")
        if isinstance(url_or_client, str):
            self.client: Any = None
            self._url = url_or_client
        else:
            self.client = url_or_client
            self._url = url_or_client.url
        self._options = options
        self.refresh()
        self._start_refresher()

    def __repr__(self) -> str:
        client = self.client
        if client is None:
            return f"ClientPanel: not connected ({self._url or 'no URL yet'})"
        text = f"ClientPanel: {client.state} {client.url}, {client.recorder.recorded} frame(s) recorded"
        if client.state == "closed" and client.close_code is not None:
            text += f"; closed {client.close_code} {close_code_name(client.close_code)}"
        return text

    # -- actions (the kernel's main thread; errors shown in the panel) ------------------------------

    def _actions(self) -> dict[str, Callable[..., Any]]:
        return {
            "connect": self._do_connect,
            "disconnect": self._do_disconnect,
            "text": self._do_text,
            "binary": self._do_binary,
            "fragmented": self._do_fragmented,
            "ping": self._do_ping,
            "close": self._do_close,
            "raw": self._do_raw,
        }

    def _connected(self) -> Any:
        client = self.client
        if client is None or client.state != "open":
            raise ValueError("not connected: press Connect first")
        return client

    def _do_connect(self, url: str | None = None) -> None:
        from wsplay.client import Client  # the client module is optional for the server panel

        url = (url if url is not None else self._url).strip()
        if self.client is not None and self.client.state in ("connecting", "open"):
            raise ValueError("already connected: press Disconnect first")
        # Nobody calls receive() on a panel's own client: keep no queue, the recorder feeds the log.
        client = Client(url, **{"queue": False, **self._options})
        client.open()  # from a button's callback: plain code, so this has connected when it returns
        with self._lock:
            self.client, self._url = client, url

    def _do_disconnect(self) -> None:
        if self.client is not None:
            self.client.close(1000, "")

    def _do_text(self, text: str = "", hex: bool = False) -> None:
        if hex:
            try:
                text = payload_bytes(text, True).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("those bytes are not UTF-8, so not a valid TEXT message; send them with a raw frame") from None
        self._connected().send(text)

    def _do_binary(self, text: str = "", hex: bool = False) -> None:
        self._connected().send(payload_bytes(text, hex))

    def _do_fragmented(self, text: str = "", hex: bool = False, size: int = 4) -> None:
        data: str | bytes = payload_bytes(text, True) if hex else text
        self._connected().send_fragmented(data, fragment_size=int(size))

    def _do_ping(self, text: str = "", hex: bool = False) -> None:
        self._connected().ping(payload_bytes(text, hex))

    def _do_close(self, code: int = 1000, reason: str = "") -> None:
        self._connected().close(int(code), reason)

    def _do_raw(
        self,
        opcode: int = 1,
        payload: str = "",
        hex: bool = False,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        masked: bool = True,
        length: int | None = None,
    ) -> None:
        data = payload_bytes(payload, hex)
        self._connected().send_raw(
            int(opcode), data, fin=bool(fin), rsv1=bool(rsv1), rsv2=bool(rsv2), rsv3=bool(rsv3), masked=bool(masked),
            length=None if length is None else int(length),
        )  # fmt: skip

    # -- redrawing (the refresher's thread, under the lock) -----------------------------------------

    def _recorder(self) -> Recorder | None:
        return self.client.recorder if self.client is not None else None

    def _state(self) -> tuple[bool, Hashable]:
        client = self.client
        if client is None:
            return False, (None, self._url, self._tick(), self._catching_up())
        rec = client.recorder
        return client.state != "closed", (id(client), client.state, client.close_code, id(rec), rec.version, self._tick(), self._catching_up())

    def _redraw(self) -> int:
        client = self.client
        rec = client.recorder if client is not None else None
        values = self._common(rec)
        status: dict[str, Any] = {"state": client.state if client is not None else None, "url": client.url if client is not None else self._url, "opcodes": OPCODES}
        if client is not None:
            code = client.close_code
            status.update(
                close_code=code,
                close_name=close_code_name(code) if code is not None else None,
                close_reason=client.close_reason,
                closed_by=getattr(client, "closed_by", None),
                id=getattr(client, "id", None),
            )
            extension = getattr(client, "extension", None)
            status["extensions"] = extensions_of(extension.header() if extension is not None else None)
            if rec is not None and status["id"] is not None:
                status["compression"] = compression_of(rec.counters(status["id"]))
        values["status"] = status
        if rec is not None:
            opened = [e for e in rec.events() if isinstance(e, ConnectionOpened)]
            values["handshakes"] = {str(e.connection): handshake_of(e) for e in opened[-5:]}
        return assign(self, **values)

"""`ClientPanel`: drive a `wsplay.Client` from buttons, including frames that break RFC 6455 on purpose."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import ipywidgets as widgets

from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.frames import FrameLog
from wsplay.widgets.html import esc
from wsplay.widgets.refresh import LivePanel, assign

__all__ = ["ClientPanel"]

_OPCODES = [(f"{op:#x} {FrameType(op).name}" if op in (0, 1, 2, 8, 9, 10) else f"{op:#x} reserved", op) for op in range(16)]


def _payload(text: str, as_hex: bool) -> bytes:
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
        super().__init__()
        if isinstance(url_or_client, str):
            self.client: Any = None
            url = url_or_client
        else:
            self.client = url_or_client
            url = url_or_client.url
        self._options = options
        small = widgets.Layout(width="auto")
        self._url = widgets.Text(value=url, placeholder="ws://127.0.0.1:8080/", description="URL", layout=widgets.Layout(flex="1 1 320px"))
        self._connect = widgets.Button(description="Connect", icon="plug", layout=small)
        self._disconnect = widgets.Button(description="Disconnect", icon="times", tooltip="close with 1000", layout=small)
        self._status = widgets.HTML()
        # Sending well-formed messages.
        self._text = widgets.Textarea(placeholder="payload", rows=2, layout=widgets.Layout(flex="1 1 320px"))
        self._hex = widgets.Checkbox(description="payload is hex", value=False, indent=False, layout=small)
        self._send_text = widgets.Button(description="Text", icon="paper-plane", tooltip="send as one TEXT frame", layout=small)
        self._send_binary = widgets.Button(description="Binary", tooltip="send as one BINARY frame", layout=small)
        self._fragment_size = widgets.BoundedIntText(value=4, min=1, max=1 << 20, description="fragment", layout=widgets.Layout(width="150px"))
        self._send_fragmented = widgets.Button(description="Fragmented", tooltip="send as fragments of this many bytes", layout=small)
        self._ping = widgets.Button(description="Ping", tooltip="ping with the payload as data", layout=small)
        self._code = widgets.BoundedIntText(value=1000, min=0, max=65535, description="code", layout=widgets.Layout(width="140px"))
        self._reason = widgets.Text(placeholder="close reason", layout=widgets.Layout(width="160px"))
        self._close = widgets.Button(description="Close", tooltip="start the close handshake", layout=small)
        # Any frame at all.
        self._opcode = widgets.Dropdown(options=_OPCODES, value=1, description="opcode", layout=widgets.Layout(width="200px"))
        self._fin = widgets.Checkbox(value=True, description="FIN", indent=False, layout=small)
        self._rsv = [widgets.Checkbox(value=False, description=f"RSV{i}", indent=False, layout=small) for i in (1, 2, 3)]
        self._masked = widgets.Checkbox(value=True, description="masked", indent=False, layout=small)
        self._lie = widgets.Checkbox(value=False, description="declare length", indent=False, layout=small)
        self._length = widgets.BoundedIntText(value=0, min=0, max=(1 << 63) - 1, layout=widgets.Layout(width="120px"))
        self._raw_payload = widgets.Text(placeholder="raw payload", layout=widgets.Layout(flex="1 1 200px"))
        self._raw_hex = widgets.Checkbox(description="hex", value=False, indent=False, layout=small)
        self._send_raw = widgets.Button(description="Send raw frame", icon="bolt", layout=small)
        self.frame_log = FrameLog(self.client.recorder if self.client is not None else None, self._lock, show_connection=False)
        row = widgets.Layout(flex_flow="row wrap", align_items="center")
        self.children = [
            self._css(),
            widgets.HBox([self._url, self._connect, self._disconnect], layout=row),
            self._status,
            self._error_html,
            widgets.HTML("<b>Send</b>"),
            widgets.HBox([self._text, self._hex], layout=row),
            widgets.HBox([self._send_text, self._send_binary, self._fragment_size, self._send_fragmented, self._ping, self._code, self._reason, self._close], layout=row),
            widgets.HTML("<b>Raw frame</b> <span class='wsplay-muted'>(nothing is checked: see how the server answers)</span>"),
            widgets.HBox([self._opcode, self._fin, *self._rsv, self._masked, self._lie, self._length], layout=row),
            widgets.HBox([self._raw_payload, self._raw_hex, self._send_raw], layout=row),
            widgets.HTML("<b>Frames</b>"),
            self.frame_log,
        ]
        for button, fn in [
            (self._connect, self._do_connect),
            (self._disconnect, self._do_disconnect),
            (self._send_text, self._do_text),
            (self._send_binary, self._do_binary),
            (self._send_fragmented, self._do_fragmented),
            (self._ping, self._do_ping),
            (self._close, self._do_close),
            (self._send_raw, self._do_raw),
        ]:
            button.on_click(self._action(fn))
        self.refresh()
        self._start_refresher()

    # -- actions (kernel main thread; errors shown in the panel) -------------------------------------

    def _connected(self) -> Any:
        client = self.client
        if client is None or client.state != "open":
            raise ValueError("not connected: press Connect first")
        return client

    def _payload(self) -> bytes:
        with self._lock:
            return _payload(self._text.value, self._hex.value)

    def _do_connect(self) -> None:
        from wsplay.client import Client  # the client module is optional for the server panel

        with self._lock:
            url = self._url.value.strip()
        if self.client is not None and self.client.state in ("connecting", "open"):
            raise ValueError("already connected: press Disconnect first")
        # Nobody calls receive() on a panel's own client: keep no queue, the recorder feeds the log.
        client = Client(url, **{"queue": False, **self._options})
        client.open()  # from a button's callback: plain code, so this has connected when it returns
        with self._lock:
            self.client = client
            self.frame_log.recorder = client.recorder

    def _do_disconnect(self) -> None:
        if self.client is not None:
            self.client.close(1000, "")

    def _do_text(self) -> None:
        with self._lock:
            text, as_hex = self._text.value, self._hex.value
        if as_hex:
            try:
                text = _payload(text, True).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("those bytes are not UTF-8, so not a valid TEXT message; send them with a raw frame") from None
        self._connected().send(text)

    def _do_binary(self) -> None:
        self._connected().send(self._payload())

    def _do_fragmented(self) -> None:
        with self._lock:
            text, as_hex, size = self._text.value, self._hex.value, self._fragment_size.value
        data: str | bytes = _payload(text, True) if as_hex else text
        self._connected().send_fragmented(data, fragment_size=size)

    def _do_ping(self) -> None:
        self._connected().ping(self._payload())

    def _do_close(self) -> None:
        with self._lock:
            code, reason = self._code.value, self._reason.value
        self._connected().close(code, reason)

    def _do_raw(self) -> None:
        with self._lock:
            payload = _payload(self._raw_payload.value, self._raw_hex.value)
            options = dict(
                fin=self._fin.value,
                rsv1=self._rsv[0].value,
                rsv2=self._rsv[1].value,
                rsv3=self._rsv[2].value,
                masked=self._masked.value,
                length=self._length.value if self._lie.value else None,
            )
            opcode = self._opcode.value
        self._connected().send_raw(opcode, payload, **options)

    # -- redrawing (the refresher's thread, under the lock) ------------------------------------------

    def _state(self) -> tuple[bool, Hashable]:
        client = self.client
        if client is None:
            return False, None
        rec = client.recorder
        return client.state != "closed", (id(client), client.state, client.close_code, id(rec), rec.version)

    def _redraw(self) -> int:
        client = self.client
        if client is not None and self.frame_log.recorder is not client.recorder:
            self.frame_log.recorder = client.recorder
        state = client.state if client is not None else None
        sent = assign(self._status, value=self._status_html(client))
        sent += assign(self._connect, disabled=state in ("connecting", "open"))
        sent += assign(self._disconnect, disabled=state != "open")
        sent += self.frame_log.redraw()
        return sent

    def _status_html(self, client: Any) -> str:
        if client is None:
            return '<span class="wsplay-muted">○ not connected</span>'
        state = client.state
        url = esc(client.url)
        if state == "open":
            return f'<span class="wsplay-ok">●</span> open to <code>{url}</code>'
        if state != "closed":
            return f"◐ {esc(state)} <code>{url}</code>"
        code = client.close_code
        text = f"○ closed ({url})"
        if code is not None:
            text += f": {code} {esc(close_code_name(code))}"
        if client.close_reason:
            text += f" “{esc(client.close_reason)}”"
        by = getattr(client, "closed_by", None)
        if by:
            text += f" · started by {esc(by)}"
        return text

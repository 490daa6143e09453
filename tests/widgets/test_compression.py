"""permessage-deflate in the panels: the table's badge and sizes, the inspector's wire and inflated
payloads, the connection table's extension and ratios, the client panel's status.

No browser (tests/widgets/conftest.py): the peer is the `websockets` library with its own
permessage-deflate, so what the panel shows is checked against an independent compressor; the wire
bytes the inspector gets are inflated here with zlib, not with wsplay's code.
"""

from __future__ import annotations

import time
import zlib

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from wsplay.observe import ConnectionOpened
from wsplay.protocol.frames import encode_header
from wsplay.widgets import ClientPanel, ServerPanel
from wsplay.widgets.deflate import compression_of, extensions_of
from wsplay.widgets.frames import DEFLATE, MASK, RSV1

TEXT = "compress me, " * 100  # 1,300 bytes that deflate to a few dozen
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.2: the receiver appends what the sender removed


def _row(view, index):
    return next(r for r in view.rows if r[0] == index)


def _inspect(panel, view, index):
    panel.selected = index
    content, buffers = view.custom("frame")[-1]
    assert content["index"] == index
    return content, buffers


def _connection(panel, cid):
    return next((c for c in panel.connections if c["id"] == cid), {})


def test_a_compressed_conversation_in_the_server_panel(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    # An offer with parameters, so that the answer has some to show.
    offer = ClientPerMessageDeflateFactory(server_max_window_bits=12, client_no_context_takeover=True)
    with connect(host.url, extensions=[offer], compression=None) as ws:
        assert ws.protocol.extensions, "websockets did not negotiate permessage-deflate"
        ws.send(TEXT)
        assert ws.recv(timeout=2 * kit.UNIT) == TEXT
        ws.send(["frag" * 50, "ment" * 50])  # one compressed message in two frames: RSV1 on the first only
        assert ws.recv(timeout=2 * kit.UNIT) == "frag" * 50 + "ment" * 50
        ws.send(bytes(2000))
        assert ws.recv(timeout=2 * kit.UNIT) == bytes(2000)
        conn = host.connections[0]
        cid = conn.id
        answer = conn.extension.header()
        counts = host.recorder.counters(cid)
        kit.wait_for(lambda: _connection(panel, cid).get("frames_in") == counts.frames_in, what="the connection row")

        # The connection table: the extension with its parameters, and the ratio each way.
        row = _connection(panel, cid)
        assert answer == "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"
        assert row["extensions"] == [{"name": "permessage-deflate", "params": ["client_no_context_takeover", "server_max_window_bits=12"]}]
        comp = row["compression"]
        assert comp["in"] == {"wire": counts.deflated_in, "inflated": counts.inflated_in, "ratio": round(counts.ratio_in, 4)}
        assert comp["out"] == {"wire": counts.deflated_out, "inflated": counts.inflated_out, "ratio": round(counts.ratio_out, 4)}
        assert counts.inflated_in == len(TEXT) + 400 + 2000 and comp["in"]["ratio"] < 0.1 and comp["out"]["ratio"] < 0.1
        assert f", permessage-deflate (in {comp['in']['ratio']:.0%} / out {comp['out']['ratio']:.0%} of the inflated size on the wire)" in repr(panel)

        # The handshake view still has both heads, offer and answer included.
        hs = panel.handshakes[str(cid)]
        request = {k.lower(): v for k, v in hs["request_headers"]}
        response = {k.lower(): v for k, v in hs["response_headers"]}
        assert request["sec-websocket-extensions"] == ws.request.headers["Sec-WebSocket-Extensions"]
        assert response["sec-websocket-extensions"] == answer and hs["extensions"] == answer
        assert hs["request_line"] == "GET / HTTP/1.1" and hs["status_line"] == "HTTP/1.1 101 Switching Protocols"

    kit.wait_for(lambda: len(view.rows) == len(host.frames), what="every row")
    frames = {(r.direction, r.type_name, r.fin): r for r in host.frames if r.opcode < 8}
    sent = frames["in", "TEXT", True]
    echoed = next(r for r in host.frames if r.direction == "out" and r.type_name == "TEXT" and r.payload == TEXT.encode())

    # Rows: the badge (DEFLATE), the wire size (header included) and the inflated size.
    for record in (sent, echoed):
        index, _t, _c, _d, _op, flags, wire, length = _row(view, record.index)[:8]
        assert flags & DEFLATE and flags & RSV1
        assert wire == len(record.header_bytes) + record.length and length == len(TEXT) and wire < 100
        assert _row(view, record.index)[9].startswith("compress me, compress me")  # the preview is inflated
    first = frames["in", "TEXT", False]
    second = next(r for r in host.frames if r.direction == "in" and r.type_name == "CONTINUE")  # then an empty last one
    assert _row(view, first.index)[5] & (DEFLATE | RSV1) == DEFLATE | RSV1
    assert _row(view, second.index)[5] & (DEFLATE | RSV1) == DEFLATE  # compressed, RSV1 clear as on the wire
    assert _row(view, second.index)[7] == 200
    uncompressed = [r for r in view.rows if r[4] >= 8]  # control frames are never compressed
    assert uncompressed and not any(r[5] & (DEFLATE | RSV1) for r in uncompressed)

    # The inspector: the header as on the wire (RSV1 set), the wire payload beside the inflated one.
    shown, buffers = _inspect(panel, view, sent.index)
    assert shown["compressed"] is True and shown["rsv"] == [True, False, False] and shown["masked"]
    assert shown["header"] == sent.header_bytes.hex() and sent.header_bytes[0] == 0xC1  # FIN, RSV1, TEXT
    inflated, wire = buffers
    assert inflated == TEXT.encode() and shown["payload_length"] == len(TEXT) and shown["sent"] == len(TEXT)
    assert shown["length"] == len(wire) == shown["wire_kept"] == shown["wire_sent"] == sent.length
    assert zlib.decompressobj(-15).decompress(wire + TAIL) == TEXT.encode()  # the first message: no context yet
    assert shown["ratio"] == round(len(wire) / len(TEXT), 4) and shown["ratio"] < 0.1
    assert shown["text"] and not shown["cut"]

    shown, buffers = _inspect(panel, view, second.index)
    assert shown["compressed"] and shown["rsv"] == [False, False, False] and buffers[0] == b"ment" * 50

    shown, buffers = _inspect(panel, view, echoed.index)  # the server's own: unmasked, compressed by wsplay
    assert shown["compressed"] and not shown["masked"] and shown["rsv"] == [True, False, False]
    assert buffers[0] == TEXT.encode() and len(buffers[1]) == echoed.length

    close = next(r for r in host.frames if r.type_name == "CLOSE")
    shown, buffers = _inspect(panel, view, close.index)
    assert shown["compressed"] is False and shown["ratio"] is None and len(buffers) == 1


def test_a_connection_without_compression_says_none(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    with connect(host.url, compression=None) as ws:
        ws.send(TEXT)
        ws.recv(timeout=2 * kit.UNIT)
        cid = host.connections[0].id
        kit.wait_for(lambda: any(c["id"] == cid and c["frames_out"] for c in panel.connections), what="the row")
    row = _connection(panel, cid)
    assert row["extensions"] == [] and row["compression"] == {"in": None, "out": None}
    kit.wait_for(lambda: len(view.rows) == len(host.frames), what="every row")
    assert not any(r[5] & DEFLATE for r in view.rows)
    assert "deflate" not in repr(panel)
    text = next(r for r in host.frames if r.type_name == "TEXT")
    shown, buffers = _inspect(panel, view, text.index)
    assert shown["compressed"] is False and shown["payload_length"] == shown["length"] == len(TEXT) and len(buffers) == 1


def test_a_compressed_frame_past_the_budget_keeps_both_payloads_cut(comms, hosts, browser) -> None:
    host = hosts(start=False).record(frames=100, payload_bytes=1000)
    rec = host.recorder
    rec.event(ConnectionOpened(time.time(), 1, "127.0.0.1:5555", "/", response_head=("HTTP/1.1 101 Switching Protocols", [("Sec-WebSocket-Extensions", "permessage-deflate")])))
    panel = ServerPanel(host)
    view = browser(panel)
    payload = bytes(range(256)) * 8  # 2,048 bytes inflated
    compressor = zlib.compressobj(wbits=-15)
    wire = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    head = encode_header(2, len(wire), True, rsv=4, mask_key=b"\x01\x02\x03\x04")
    rec.frame_deflated(rec.counters_of(1), 1, "in", head, payload, wire, time.monotonic())
    index = rec.frames(last=1)[-1].index
    panel.refresh()
    flags = _row(view, index)[5]
    assert flags & DEFLATE and flags & RSV1 and flags & MASK and flags & 32  # CUT
    assert _row(view, index)[7] == len(payload)
    shown, buffers = _inspect(panel, view, index)
    assert shown["cut"] and shown["kept"] == 256 and shown["wire_kept"] == 256 and shown["length"] == len(wire)
    assert buffers == [payload[:256], wire[:256]]
    assert panel.connections[0]["extensions"] == [{"name": "permessage-deflate", "params": []}]
    assert panel.connections[0]["compression"]["in"] == {"wire": len(wire), "inflated": len(payload), "ratio": round(len(wire) / len(payload), 4)}


def test_the_client_panel_shows_its_extension_and_ratios(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ClientPanel(host.url)  # wsplay's client offers permessage-deflate as browsers do
    view = browser(panel)
    kit.click(panel, "connect", url=host.url)
    assert panel.error == ""
    kit.click(panel, "text", text=TEXT)
    kit.wait_for(lambda: (panel.status.get("compression") or {}).get("in"), what="the echo's compression")
    client = panel.client
    assert panel.status["extensions"] == extensions_of(client.extension.header())
    assert panel.status["extensions"][0]["name"] == "permessage-deflate"
    counts = client.recorder.counters(client.id)
    assert panel.status["compression"] == compression_of(counts) and panel.status["compression"]["out"]["ratio"] < 0.1
    kit.wait_for(lambda: sum(1 for r in view.rows if r[5] & DEFLATE) == 2, what="both compressed rows")
    out = next(r for r in client.frames if r.direction == "out" and r.type_name == "TEXT")
    shown, buffers = _inspect(panel, view, out.index)
    assert shown["compressed"] and shown["masked"] and shown["rsv"] == [True, False, False]
    assert buffers[0] == TEXT.encode() and zlib.decompressobj(-15).decompress(buffers[1] + TAIL) == TEXT.encode()


def test_extensions_of_reads_a_header_value() -> None:
    assert extensions_of(None) == [] and extensions_of("") == []
    assert extensions_of("permessage-deflate") == [{"name": "permessage-deflate", "params": []}]
    assert extensions_of("permessage-deflate; client_max_window_bits = 10; server_no_context_takeover, x-other") == [
        {"name": "permessage-deflate", "params": ["client_max_window_bits=10", "server_no_context_takeover"]},
        {"name": "x-other", "params": []},
    ]

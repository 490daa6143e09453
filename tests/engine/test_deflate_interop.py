"""permessage-deflate against an independent implementation: the `websockets` client talking to a wsplay host.

Every parameter combination websockets' client can offer, 200 messages per connection (0 bytes to
1 MiB, text and binary, whole and fragmented), so that context takeover (or its absence) is
exercised; each echo is checked byte for byte.
"""

from __future__ import annotations

import itertools

import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from testenv import UNIT, deflate_messages, echo_endpoint

COMBINATIONS = [
    dict(server_no_context_takeover=sn, client_no_context_takeover=cn, server_max_window_bits=sb, client_max_window_bits=cb)
    for sn, cn, sb, cb in itertools.product([False, True], [False, True], [None, 8, 12], [True, 9, 15, None])
]


@pytest.mark.parametrize("offer", COMBINATIONS, ids=[",".join(f"{k.split('_max')[0][:6]}{'' if v is True else v}" for k, v in c.items() if v) or "plain" for c in COMBINATIONS])
def test_websockets_client_with_compression(offer: dict, hosts) -> None:
    host = hosts(echo_endpoint().max_message_size(2 << 20))
    with connect(host.url, extensions=[ClientPerMessageDeflateFactory(**offer)], compression=None, max_size=2 << 20, open_timeout=3 * UNIT) as ws:
        assert ws.protocol.extensions, "permessage-deflate was not negotiated"
        for n, message in enumerate(deflate_messages(seed=len(str(offer)))):
            if n % 3 == 1 and len(message) > 3:  # fragmented: three frames, RSV1 on the first only
                third = len(message) // 3
                ws.send([message[:third], message[third : 2 * third], message[2 * third :]])
            else:
                ws.send(message)
            assert ws.recv(timeout=5 * UNIT) == message, f"message {n} ({len(message)} bytes) was not echoed intact"
    frames = host.frames
    assert any(f.compressed and f.direction == "in" for f in frames) and any(f.compressed and f.direction == "out" for f in frames)

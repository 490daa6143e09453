"""UTF-8 validation of text messages, across fragment boundaries, failing as soon as a bad byte is seen."""

from __future__ import annotations

import codecs

from wsplay.errors import ProtocolError

__all__ = ["Utf8Validator", "decode_text"]

_INVALID = "text message is not valid UTF-8 (RFC 6455 8.1)"


def decode_text(payload: bytes | bytearray | memoryview) -> str:
    """Decode a whole text payload, raising a 1007 ProtocolError when it is not UTF-8."""
    try:
        return str(payload, "utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{_INVALID}: byte {exc.start}", 1007) from None


class Utf8Validator:
    """Decode a text message piece by piece; invalid bytes fail at once, not at the end.

    Python's incremental decoder already rejects a bad byte as soon as it arrives, with one gap:
    it waits for a third byte after ED A0..BF (a UTF-16 surrogate), so that case is checked here.
    """

    __slots__ = ("_decoder", "_seen")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._seen = 0

    def feed(self, data: bytes | bytearray | memoryview, final: bool = False) -> str:
        """Decode the next piece; `final` says it ends the message (a cut-off character is an error)."""
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{_INVALID}: byte {self._seen + exc.start}", 1007) from None
        self._seen += len(data)
        pending = self._decoder.getstate()[0]
        if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
            raise ProtocolError(f"{_INVALID}: a UTF-16 surrogate is encoded", 1007)
        return text

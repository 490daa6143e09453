"""`Websocket`: the entry point that picks a flavor, as in the seed (`Websocket.Reactive()` ...)."""

from __future__ import annotations

from wsplay.flavors.functional import FunctionalWebsocket
from wsplay.flavors.imperative import ImperativeWebsocket
from wsplay.flavors.legacy import LegacyWebsocket
from wsplay.flavors.reactive import ReactiveWebsocket

__all__ = ["Websocket"]


class Websocket:
    """Pick a flavor, as in the seed: `Websocket.reactive()`, `.functional()`, `.imperative()`, `.create()`."""

    @staticmethod
    def reactive() -> ReactiveWebsocket:
        """A handler object whose `on_message`, `on_close`, ... the engine calls (the seed's template flavor)."""
        return ReactiveWebsocket()

    @staticmethod
    def functional() -> FunctionalWebsocket:
        """Like reactive, with each callback set on the builder."""
        return FunctionalWebsocket()

    @staticmethod
    def imperative() -> ImperativeWebsocket:
        """A handler that runs its own read loop with `await connection.read_frame()`."""
        return ImperativeWebsocket()

    @staticmethod
    def create() -> LegacyWebsocket:
        """The deprecated message-level flavor; use `Websocket.functional()` instead."""
        return LegacyWebsocket(stacklevel=3)

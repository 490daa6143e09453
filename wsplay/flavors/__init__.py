"""The seed's four handler flavors: reactive, functional, imperative and the deprecated legacy one."""

from wsplay.flavors.builder import WebsocketBuilder
from wsplay.flavors.functional import FunctionalWebsocket
from wsplay.flavors.imperative import ImperativeHandler, ImperativeWebsocket
from wsplay.flavors.legacy import LegacyConnection, LegacyWebsocket
from wsplay.flavors.reactive import ReactiveHandler, ReactiveWebsocket
from wsplay.flavors.websocket import Websocket

__all__ = [
    "FunctionalWebsocket",
    "ImperativeHandler",
    "ImperativeWebsocket",
    "LegacyConnection",
    "LegacyWebsocket",
    "ReactiveHandler",
    "ReactiveWebsocket",
    "Websocket",
    "WebsocketBuilder",
]

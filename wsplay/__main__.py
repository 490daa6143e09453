"""Command line: ``python -m wsplay serve --example chat --flavor reactive --port 8080``.

The first line on stdout is the server's WebSocket URL, so a script can start the
server and read where it listens (useful with ``--port 0``). Logs go to stderr.
SIGINT or SIGTERM stops the server (clients are closed with 1001) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings

from wsplay.examples import EXAMPLES, FLAVORS


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0 picks a free one), not {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for ``python -m wsplay``."""
    parser = argparse.ArgumentParser(prog="python -m wsplay", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run an example WebSocket server until interrupted")
    serve.add_argument("--example", choices=EXAMPLES, default="chat", help="example to serve (default: chat)")
    serve.add_argument("--flavor", choices=FLAVORS, default="reactive", help="handler flavor (default: reactive)")
    serve.add_argument("--port", type=_port, default=8080, help="TCP port; 0 picks a free one (default: 8080)")
    serve.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--manual-continuation", action="store_true",
                       help="deliver CONTINUE frames instead of merged messages")
    serve.add_argument("--no-allocate", action="store_true",
                       help="let frames borrow the receive buffer instead of copying their data")
    serve.add_argument("--no-record", action="store_true",
                       help="record no frames or events (the fastest setting; nothing for panels to show)")
    serve.add_argument("--no-development", action="store_true",
                       help="no browser page on a plain GET and no pitfall reports (the library's default)")
    serve.add_argument("--quiet", action="store_true",
                       help="no log line per connection on stderr (errors still show)")
    serve.add_argument("--certfile", metavar="PEM", help="serve wss:// and https:// with this certificate (chain)")
    serve.add_argument("--keyfile", metavar="PEM", help="the certificate's private key (when not in --certfile)")
    serve.add_argument("--no-compression", action="store_true", help="decline permessage-deflate (on by default)")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM; return the exit status."""
    from wsplay import Host, HostError
    from wsplay.examples import build_example

    try:
        websocket = build_example(
            args.example,
            args.flavor,
            manual_continuation=args.manual_continuation,
            no_allocate=args.no_allocate,
        )
    except ValueError as error:  # an option combination the example refuses (legacy is message-level)
        print(f"wsplay: {error}", file=sys.stderr, flush=True)
        return 2
    if args.no_compression:
        websocket.compression(None)
    host = Host.create().handler(websocket).port(args.port).bind(args.bind).defaults()
    if args.keyfile and not args.certfile:
        print("wsplay: --keyfile needs --certfile", file=sys.stderr, flush=True)
        return 2
    if args.certfile:
        try:
            host.tls(args.certfile, args.keyfile)
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            print(f"wsplay: cannot use {args.certfile} as a certificate: {error}", file=sys.stderr, flush=True)
            return 2
    if not args.no_development:
        host.development()
    if not args.quiet:
        host.console()
    if args.no_record:
        host.record(False)

    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    # Install the handlers before starting, so a signal that arrives early still stops cleanly.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        host.start()
    except HostError as error:
        print(f"wsplay: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        print(host.url, flush=True)
        if not args.no_development:
            purpose = "chat" if args.example == "chat" else "talk to the echo server"
            print(f"open {host.client_url} in a browser to {purpose}", flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stopping.wait(0.5):
            pass
    finally:
        host.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit status."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", stream=sys.stderr)
    # The legacy flavor's DeprecationWarning is the point of choosing it: show it once.
    warnings.simplefilter("default", DeprecationWarning)
    if args.command == "serve":
        return serve(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())

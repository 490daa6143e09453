"""Command line: ``python -m wsplay serve --example chat --flavor reactive --port 8080``.

The first line on stdout is the server's WebSocket URL, so a script can start the
server and read where it listens (useful with ``--port 0``). Logs go to stderr.
SIGINT or SIGTERM stops the server (clients are closed with 1001) and exits 0.

``python -m wsplay check server ws://HOST:PORT/ [--cases '5.*'] [--json out.json]`` runs the check
suite against an echo server, ``python -m wsplay check client --command 'node client.js {url}'``
against a client; each prints a table and exits 1 when a case FAILED (0 otherwise, 2 for bad usage).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings
from typing import Any, cast

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
    serve.add_argument("--loop", choices=("asyncio", "uvloop"), default=None,
                       help="the event loop (default: asyncio's; uvloop needs pip install wsplay[speed])")
    check = commands.add_parser("check", help="check a WebSocket server or client against RFC 6455 and RFC 7692",
                                description="Run wsplay's check suite; exit 1 when a case FAILED.")
    targets = check.add_subparsers(dest="target", required=True, metavar="TARGET")
    server = targets.add_parser("server", help="check a server that echoes every message (Autobahn's convention)")
    server.add_argument("url", help="the server's ws:// or wss:// URL")
    server.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="an extra request header for every connection (repeatable)")
    client = targets.add_parser("client", help="check a client: it is started once per case with the case's URL")
    how = client.add_mutually_exclusive_group(required=True)
    how.add_argument("--command", dest="client_command", metavar="CMD",
                     help="the command that runs the client under test; {url} is replaced by the case URL "
                          "(else the URL is added at the end). It must echo every message and answer the close")
    how.add_argument("--driver", choices=("wsplay", "websockets"), help="a ready-made client: wsplay's own or the websockets library's")
    client.add_argument("--port", type=_port, default=0, help="port of the scripted server (default: a free one)")
    client.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address of the scripted server (default: 127.0.0.1)")
    for sub in (server, client):
        sub.add_argument("--cases", default="*", metavar="PATTERN",
                         help="which cases: '*' (default), '5.*', '6.4.1', a section '7', or several: '1.*,2.1'")
        sub.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds each case may take (default: 10)")
        sub.add_argument("--wait", type=float, default=0.5, metavar="S",
                         help="seconds of silence that show the peer will not answer (default: 0.5)")
        sub.add_argument("--json", metavar="FILE", help="also write the whole result, every frame included, as JSON")
        sub.add_argument("-v", "--verbose", action="store_true", help="list every case, not only those that are not OK")
        sub.add_argument("--progress", action="store_true", help="a line on stderr as each case is done")
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM; return the exit status."""
    from wsplay import Host, HostError, runtime
    from wsplay.examples import build_example

    if args.loop:
        try:
            runtime.use_loop(args.loop)
        except ImportError:
            print("wsplay: --loop uvloop needs uvloop: pip install 'wsplay[speed]'", file=sys.stderr, flush=True)
            return 2

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


def run_check(args: argparse.Namespace) -> int:
    """Run the check suite; print the table; 1 when a case FAILED, 0 otherwise, 2 for bad arguments."""
    from wsplay import check

    def progress(case: check.CaseResult) -> None:
        print(f"{case.id:<8} {case.verdict.value:<13} {case.title}", file=sys.stderr, flush=True)

    options: dict[str, Any] = {"cases": args.cases, "timeout": args.timeout, "quiet": args.wait, "progress": progress if args.progress else None}
    try:
        if args.target == "server":
            headers = []
            for line in args.header:
                name, sep, value = line.partition(":")
                if not sep or not name.strip():
                    raise ValueError(f"--header takes 'Name: value', not {line!r}")
                headers.append((name.strip(), value.strip()))
            result = cast(check.Result, check.server(args.url, headers=headers, **options))
        else:
            if args.client_command is not None:
                drive: object = args.client_command
            elif args.driver == "wsplay":
                drive = check.drivers.wsplay_echo(close_timeout=min(2.0, args.timeout / 2))
            else:
                drive = check.drivers.websockets_echo(close_timeout=min(2.0, args.timeout / 2))
            result = cast(check.Result, check.client(drive, host=args.bind, port=args.port, **options))  # type: ignore[arg-type]
    except ValueError as error:
        print(f"wsplay: {error}", file=sys.stderr, flush=True)
        return 2
    print(result.table(every_case=args.verbose), flush=True)
    if args.json:
        path = result.save(args.json)
        print(f"wrote {path}", file=sys.stderr, flush=True)
    return 1 if result.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; return the exit status."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING if getattr(args, "quiet", False) or args.command == "check" else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", stream=sys.stderr)
    # The legacy flavor's DeprecationWarning is the point of choosing it: show it once.
    warnings.simplefilter("default", DeprecationWarning)
    if args.command == "serve":
        return serve(args)
    if args.command == "check":
        return run_check(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark's echo server with an open server panel: what a displayed panel costs a host.

    python benchmarks/panel.py [--chat]

The same host as `python -m wsplay serve --example echo --flavor reactive --quiet --no-development`
(recording on, the library's defaults; with `--chat`, as run.py asks for W8, the chat), plus a `ServerPanel` whose comm stands in for the kernel's:
every message is serialised to JSON (buffers counted) as ipykernel's session would, then dropped.
So the panel's refresher does all its work (snapshots, rows, traits, serialisation) and the
difference to `wsplay-reactive` in run.py is the cost of an open panel. Prints its URL first; on
SIGTERM prints the messages and bytes the panel sent, to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import until_signalled  # noqa: E402


class SerialisingComm:
    """Stands in for a kernel comm: serialises each message like a Jupyter session, keeps only counts."""

    kernel = "present"  # ipywidgets sends only through a comm with a kernel

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = "bench"
        self.messages = 0
        self.bytes = 0

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.messages += 1
        self.bytes += len(json.dumps(data, default=str)) + sum(len(b) for b in buffers or ())

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


def main() -> int:
    import comm

    comm.create_comm = SerialisingComm
    comm.get_comm_manager = lambda: {}

    from wsplay import Host
    from wsplay.examples import build_example
    from wsplay.widgets import ServerPanel

    example = "chat" if "--chat" in sys.argv[1:] else "echo"
    host = Host.create().handler(build_example(example, "reactive")).port(0).defaults().start()
    panel = ServerPanel(host)
    sent = panel.comm
    try:
        until_signalled(host.url)
    finally:
        host.stop()
        panel.close()
    print(f"panel: {sent.messages} messages, {sent.bytes} bytes", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

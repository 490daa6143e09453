"""wsplay needs no nest_asyncio, and keeps working in a kernel where a user applied it anyway.

Many notebook users have been told to call `nest_asyncio.apply()` before running asyncio code in a
cell. It patches asyncio for the whole process; wsplay's servers and clients run on their own loop in
a thread, so they neither need the patch nor break under it.
"""

from __future__ import annotations

CELLS = [
    "import nest_asyncio\nnest_asyncio.apply()\n"
    "import asyncio\nloop = asyncio.get_event_loop()\nprint(type(loop).__name__, hasattr(loop, '_nest_patched'))\n",
    "import wsplay\nfrom wsplay.examples import echo\n"
    "host = wsplay.Host.create().handler(echo()).port(0).start()\n"
    "client = wsplay.connect(host.url)\n"
    "client.send('plain cell')\n"
    "print(client.receive_text(timeout=5))\n",
    # Top-level await, on the patched kernel loop: the calls are awaited there.
    "await client.send('awaited')\n"
    "print(await client.receive_text(timeout=5))\n"
    "print(asyncio.run(asyncio.sleep(0, 'asyncio.run works, nested')))\n",
    # A coroutine run with asyncio.run from the cell (only possible with nest_asyncio) that uses wsplay.
    "async def main():\n"
    "    other = await wsplay.connect(host.url)\n"
    "    await other.send('from asyncio.run')\n"
    "    text = await other.receive_text(timeout=5)\n"
    "    await other.close()\n"
    "    return text\n"
    "print(asyncio.run(main()))\n",
    "client.close()\nhost.stop()\nprint(host.running, client.state)\n",
]


def test_wsplay_works_in_a_kernel_patched_by_nest_asyncio(run_notebook) -> None:
    run = run_notebook(CELLS)
    assert run.errors() == []
    assert run.stream(0).split()[1] == "True"  # the kernel's loop really was patched
    assert run.stream(1) == "plain cell\n"
    assert run.stream(2) == "awaited\nasyncio.run works, nested\n"
    assert run.stream(3) == "from asyncio.run\n"
    assert run.stream(4) == "False closed\n"

"""nbclient as a notebook frontend: each execute request carries its cell's id, as JupyterLab sends it.

Imported by name (pyproject puts tests/ on the path) by the notebook tests.
"""

from __future__ import annotations

from typing import Any

import nbclient
from jupyter_core.utils import run_sync


class FrontendClient(nbclient.NotebookClient):
    """nbclient sending each cell's id with its execute request (metadata `cellId`), as JupyterLab,
    Notebook 7 and VS Code do; plain nbclient sends none, which tests the fallback instead."""

    async def async_execute_cell(self, cell: Any, cell_index: int, execution_count: int | None = None, store_history: bool = True) -> Any:
        kc = self.kc
        assert kc is not None

        def execute(code: str, silent: bool = False, store_history: bool = True, user_expressions: Any = None,
                    allow_stdin: bool | None = None, stop_on_error: bool = True) -> str:
            content = {"code": code, "silent": silent, "store_history": store_history, "user_expressions": user_expressions or {},
                       "allow_stdin": kc.allow_stdin if allow_stdin is None else allow_stdin, "stop_on_error": stop_on_error}
            msg = kc.session.msg("execute_request", content, metadata={"cellId": cell.get("id")})
            kc.shell_channel.send(msg)
            return msg["header"]["msg_id"]  # type: ignore[no-any-return]

        kc.execute = execute  # type: ignore[method-assign]
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            del kc.execute

    execute_cell = run_sync(async_execute_cell)

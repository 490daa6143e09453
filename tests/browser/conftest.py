"""Browser tests: Debian's chromium driven by Playwright, against wsplay pages and a real JupyterLab.

Needs `apt-get install chromium` (Debian's /usr/bin/chromium; `playwright install` cannot download
browsers here) and the `browser` extra. Without them the tests are skipped with the reason, except
under CI (`CI` set to a true value), where a missing browser fails them instead.

Fixtures:
- `chromium`: a Playwright Browser per test (loopback only, no background networking).
- `new_page()`: a page in a fresh context (its own cookies and storage), closed after the test.
- `jupyterlab`: a JupyterLab server for the session: `Lab(url, token, root_dir)`; its kernels run
  this interpreter, its settings and data live in a temp dir, the news toast is off.
- `notebook7`: the same for Notebook 7 (`jupyter notebook`).
- `run_notebook_in_lab(page, lab, notebook_path, wait_for_selector)`: open a notebook in Lab, run
  all cells, wait for a selector (e.g. `.jp-OutputArea-output .widget-html-content`).
- `write_notebook(path, sources)`: a notebook of code cells whose kernelspec is that test kernel.
- `screenshot(page, name)`: saves artifacts/<name>.png at the repository root (gitignored).
Helpers are fixtures (returning functions) so that test modules need not import this conftest.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from testenv import MS, UNIT, missing, write_kernelspec

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from wsplay import Host

CHROMIUM = os.environ.get("WSPLAY_CHROMIUM", "/usr/bin/chromium")  # Debian's, by default
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
LAB_START_TIMEOUT = 60  # seconds; usually 3-8
LAB_STOP_TIMEOUT = 10
LAB_SETTINGS = {
    # No news toast, no update check (both would reach for the network and cover the page).
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def require_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing('playwright is not installed: pip install -e ".[test,browser]"')
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} not found: apt-get install chromium (Debian's; `playwright install` is not used)")


def require_jupyterlab() -> None:
    for module in ("jupyterlab", "nbformat", "ipykernel"):
        try:
            __import__(module)
        except ImportError:
            missing(f'{module} is not installed: pip install -e ".[test,browser]"')


# -- chromium -------------------------------------------------------------------------------------


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright, for one test; closed by its handle.

    Per test on purpose (a launch costs about 0.5 s): while Playwright's sync API is active it marks
    an asyncio loop as running in this thread between its calls, so `asyncio.run()` in any later
    test (the host and client tests use it) would fail with "cannot be called from a running event
    loop". Stopping Playwright at the end of each browser test keeps that inside the browser tests.
    """
    require_playwright()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30 * MS)
        try:
            yield browser
        finally:
            browser.close()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop left marked as running: later tests may use asyncio.run()
    else:
        pytest.fail("Playwright left an asyncio loop marked as running in the test thread", pytrace=False)


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[Callable[..., Page]]:
    """`new_page(**context_options)`: a page in a fresh browser context; all closed after the test."""
    contexts = []

    def make(**options: Any) -> Page:
        options.setdefault("viewport", {"width": 1100, "height": 700})
        context = chromium.new_context(**options)
        context.set_default_timeout(15 * MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def echo_page_host(hosts: Callable[..., Host]) -> Host:
    """The examples' echo in development mode, so it serves the client page at `host.client_url`."""
    from wsplay.examples import echo

    return hosts(echo(), development=True)


@pytest.fixture
def chat_page_host(hosts: Callable[..., Host]) -> Host:
    """The examples' chat in development mode, with its client page."""
    from wsplay.examples import chat

    return hosts(chat(), development=True)


def save_screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of `page` as artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """`screenshot(page, name)` saves artifacts/<name>.png."""
    return save_screenshot


# -- JupyterLab -----------------------------------------------------------------------------------


class Lab(NamedTuple):
    url: str  # 'http://127.0.0.1:PORT/', no token
    token: str
    root_dir: Path

    def page_url(self, path: str) -> str:
        """`lab.page_url('lab/tree/x.ipynb?reset')` -> the full URL with the token."""
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lab_environment(base: Path) -> dict[str, str]:
    """Environment for a JupyterLab isolated in `base`, whose python3 kernel is this interpreter."""
    write_kernelspec(base / "jupyter")
    # Settings overrides: <JUPYTER_CONFIG_DIR>/labconfig/default_setting_overrides.json is read by
    # jupyterlab_server on top of the schemas' defaults (the test checks that it took effect).
    config = base / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "default_setting_overrides.json").write_text(json.dumps(LAB_SETTINGS))
    env = dict(os.environ)
    env.update(
        JUPYTER_PATH=os.pathsep.join([str(base / "jupyter"), *filter(None, [os.environ.get("JUPYTER_PATH")])]),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)  # a test host must not believe it sits behind a hub
    return env


def _wait_ready(process: subprocess.Popen[bytes], url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate this one process (by its PID, through its handle) and reap it."""
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: jupyter_server shuts its kernels down and exits
    try:
        process.wait(LAB_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(LAB_STOP_TIMEOUT)


def _start_jupyter(app: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Start `jupyter <app>` (lab or notebook) on loopback for the session; stop it by PID at the end."""
    require_playwright()  # no browser, no point starting Jupyter
    require_jupyterlab()
    base = tmp_path_factory.mktemp(app)
    root = base / "root"
    root.mkdir()
    env = _lab_environment(base)
    token = os.urandom(16).hex()
    log_path = base / f"jupyter{app}.log"
    process = None
    for _attempt in range(3):  # the free port could be taken between choosing and binding it
        port = _free_port()
        argv = [
            sys.executable, "-m", "jupyter", app,
            "--allow-root", "--no-browser",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ]  # fmt: skip
        if app == "lab":
            argv.append("--LabApp.news_url=None")  # belt and braces: no news feed at all
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        if _wait_ready(process, f"{url}api/status?token={token}", started + LAB_START_TIMEOUT):
            break
        _stop(process)
        process = None
    if process is None:
        log_tail = log_path.read_text(errors="replace")[-4000:]
        pytest.fail(f"jupyter {app} did not answer /api/status within {LAB_START_TIMEOUT} s; its log:\n{log_tail}")
    try:
        yield Lab(url, token, root)
    finally:
        _stop(process)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(log_path, ARTIFACTS / f"jupyter{app}.log")


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab server on loopback for the session, stopped by PID at the end."""
    yield from _start_jupyter("lab", tmp_path_factory)


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A Notebook 7 server on loopback for the session (the `notebook` package), stopped by PID at the end."""
    try:
        import notebook  # noqa: F401
    except ImportError:
        missing('notebook (Notebook 7) is not installed: pip install -e ".[test,browser]"')
    yield from _start_jupyter("notebook", tmp_path_factory)


def _write_notebook(path: Path, sources: list[str]) -> Path:
    """Write a notebook of code cells with this test environment's `python3` kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (wsplay tests)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def write_notebook() -> Callable[[Path, list[str]], Path]:
    """`write_notebook(path, [source, ...])` writes a notebook of code cells using the test kernel."""
    return _write_notebook


@pytest.fixture
def run_notebook_in_lab() -> Callable[..., None]:
    """`run_notebook_in_lab(page, lab, notebook_path, wait_for_selector, timeout=45)`: see `_run_notebook_in_lab`."""
    return _run_notebook_in_lab


def _run_notebook_in_lab(page: Page, lab: Lab, notebook_path: Path, wait_for_selector: str, timeout: float = 45, ui: str = "lab") -> None:
    """Open `notebook_path` (inside `lab.root_dir`) in JupyterLab, run all cells, wait for a selector.

    `wait_for_selector` is a Playwright selector searched in the whole page, e.g.
    `.jp-OutputArea-output:has-text("listening")` or `.jp-OutputArea-output .widget-html-content`.
    `ui="notebook"` opens it in Notebook 7 (a `notebook7` server) instead.
    Raises with the page's error outputs when the selector does not appear in `timeout` seconds, and
    keeps a screenshot of that moment as artifacts/failed-<notebook name>.png.
    """
    relative = notebook_path.resolve().relative_to(lab.root_dir.resolve()).as_posix()
    where = f"lab/tree/{relative}?reset" if ui == "lab" else f"notebooks/{relative}"  # ui="notebook": Notebook 7
    page.goto(lab.page_url(where), wait_until="domcontentloaded")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=30 * MS)
    _wait_for_idle_kernel(page, lab, relative, deadline=time.monotonic() + 30 * UNIT)
    page.locator(".jp-NotebookPanel .jp-Notebook").click()  # focus the notebook, not the file browser
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    _accept_kernel_dialog(page)
    try:
        page.locator(wait_for_selector).first.wait_for(timeout=timeout * MS)
    except Exception as exc:
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        shot = save_screenshot(page, f"failed-{notebook_path.stem}")
        raise AssertionError(
            f"{wait_for_selector!r} did not appear in {timeout} s; error outputs: {errors}; screenshot: {shot}"
        ) from exc


def _kernel_state(lab: Lab, relative: str) -> str | None:
    """The execution state of the kernel of the notebook at `relative`, from Jupyter's REST API."""
    try:
        with urllib.request.urlopen(f"{lab.url}api/sessions?token={lab.token}", timeout=5) as response:
            sessions = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    for session in sessions:
        if session.get("path") == relative and session.get("kernel"):
            return str(session["kernel"].get("execution_state"))
    return None


def _wait_for_idle_kernel(page: Page, lab: Lab, relative: str, deadline: float) -> None:
    """Accept a "Select Kernel" dialog if one comes up; return once the notebook's kernel is idle.

    Run All before the kernel is up would queue the cells (harmless), but a dialog left open would
    swallow the clicks on the menu: so wait for the kernel the REST way, not from the page's looks.
    """
    state = None
    while time.monotonic() < deadline:
        _accept_kernel_dialog(page)
        state = _kernel_state(lab, relative)
        if state == "idle":
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the kernel of {relative} was not idle within the time allowed (last state: {state})")


def _accept_kernel_dialog(page: Page) -> None:
    """Accept JupyterLab's "Select Kernel" dialog if it is up (the notebook's kernel is preselected)."""
    dialog = page.locator(".jp-Dialog:has-text('Select Kernel')")
    if dialog.count():
        dialog.locator(".jp-mod-accept").click()
        dialog.wait_for(state="detached")

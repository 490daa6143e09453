"""binder/ lint: repo2docker reads the folder and prints the Dockerfile it would build (no Docker).

`repo2docker --no-build --no-run` rejects configuration it cannot build (a malformed or unsupported
runtime.txt, for one), but happily builds things that would not work for us, so the generated
Dockerfile is checked as well: Python 3.12 (websockets 17 and ipykernel 7.4 refuse the 3.10 default),
binder/requirements.txt installed after the repository is copied in (it installs the package itself
with "-e ."), and postBuild run. postBuild itself is run against a scratch JupyterLab directory.
binder/requirements.txt pins the whole closure of what the image installs to this environment's
versions (binder/pin.py writes it; .ci/run installs the test environment with those pins as
constraints), with a jupyter-server-proxy that has the fix for CVE-2024-28179.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testenv import missing

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
REPO2DOCKER = [sys.executable, "-m", "repo2docker", "--no-build", "--no-run", "--debug", "--user-id", "1000", "--user-name", "jovyan"]

pytestmark = pytest.mark.timeout(60)


def _require_repo2docker() -> None:
    if importlib.util.find_spec("repo2docker") is None:  # found, not imported (it warns on import)
        missing('jupyter-repo2docker is not installed: pip install -e ".[test]"')


def _repo2docker(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REPO2DOCKER, str(directory)],
        cwd=directory, capture_output=True, text=True, timeout=45, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _copy_of_the_build_context(tmp_path: Path) -> Path:
    """What repo2docker looks at: binder/ (which takes precedence over everything else) and pyproject.toml."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copytree(BINDER, copy / "binder")
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_binder_folder_is_complete() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.12"
    requirements = [
        line.split("#", 1)[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in requirements if line]
    assert any(line.replace("-e", "").strip().startswith(".") for line in requirements), requirements
    names = {line.split("==")[0] for line in requirements if "==" in line}
    assert {"jupyter-server-proxy", "ipywidgets", "jupyterlab", "websockets"} <= names
    # environment.yml would make repo2docker ignore requirements.txt altogether.
    assert not (BINDER / "environment.yml").exists()
    assert os.access(BINDER / "postBuild", os.X_OK), "binder/postBuild must be executable"


def test_repo2docker_accepts_the_binder_folder() -> None:
    _require_repo2docker()
    result = _repo2docker(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "python=3.12" in output  # "Building conda environment for python=3.12"
    dockerfile = output[output.index("FROM ") :]
    copy_repo = dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    post_build = dockerfile.index("RUN ./binder/postBuild")
    # "-e ." needs the repository in the image: requirements.txt is installed after copying it.
    assert copy_repo < install < post_build


@pytest.mark.parametrize("runtime", ["python-3.99", "pyhton 3.12"])
def test_repo2docker_rejects_a_broken_runtime(tmp_path: Path, runtime: str) -> None:
    """The lint has teeth: the same folder with a bad runtime.txt fails."""
    _require_repo2docker()
    copy = _copy_of_the_build_context(tmp_path)
    assert _repo2docker(copy).returncode == 0  # the copy alone is fine
    (copy / "binder" / "runtime.txt").write_text(runtime + "\n")
    result = _repo2docker(copy)
    assert result.returncode != 0
    assert "runtime" in result.stderr.lower() or "python version" in result.stderr.lower(), result.stderr[-2000:]


def test_postbuild_writes_the_lab_settings_overrides(tmp_path: Path) -> None:
    pytest.importorskip("jupyterlab")
    app_dir = tmp_path / "share" / "jupyter" / "lab"
    settings = app_dir / "settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps({"some/plugin:id": {"keep": True}}))
    env = dict(os.environ, JUPYTERLAB_DIR=str(app_dir), NB_PYTHON_PREFIX=str(tmp_path))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # python3 with jupyterlab
    result = subprocess.run(
        [str(BINDER / "postBuild")], env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    assert overrides["some/plugin:id"] == {"keep": True}  # merged, not replaced


def _pins() -> dict[str, str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))


def test_every_package_the_image_installs_is_pinned_to_what_the_tests_ran_with() -> None:
    """binder/pin.py --check: the pins are exactly this environment's versions (CI installs with them as
    constraints, so the tests ran on them), the whole closure of what the image installs."""
    result = subprocess.run([sys.executable, str(BINDER / "pin.py"), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    lines = [line for line in (BINDER / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "-e .[notebook]" and all("==" in line for line in lines[1:]), "one editable project, then only exact pins"
    assert len(lines) > 50  # the closure, not only the few packages named


def test_jupyter_server_proxy_has_the_fix_for_cve_2024_28179() -> None:
    # Before 4.1.1 (and 3.2.3) jupyter-server-proxy let unauthenticated requests reach proxied websockets.
    from packaging.version import Version

    assert Version(_pins()["jupyter-server-proxy"]) >= Version("4.1.1")


def test_pin_refuses_a_vulnerable_jupyter_server_proxy(monkeypatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("binder_pin", BINDER / "pin.py")
    assert spec is not None and spec.loader is not None
    pin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pin)
    pins = dict(_pins(), **{"jupyter-server-proxy": "4.1.0"})
    with pytest.raises(SystemExit, match="jupyter-server-proxy 4.1.0 is older than 4.1.1"):
        pin.render(pins)
    assert "jupyter-server-proxy==4.6.0" in pin.render(dict(pins, **{"jupyter-server-proxy": "4.6.0"}))

"""The README's quick start works as written against ``fake-artifactory serve``.

The shell block starts the emulator with its defaults (repository, context path) and sets
the plugin's variables; the Python block logs and reads back a file. Only the port
changes (a free one instead of the README's, which must be the emulator's default).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from fake_artifactory.config import DEFAULT_REPO, EmulatorConfig
from fake_artifactory.testing import start_process

ROOT = Path(__file__).resolve().parents[1]


def _quick_start() -> tuple[list[str], str]:
    """The shell lines and the Python code of the README's plugin quick start."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The plugin (`jfrog_mlflow`)", 1)[1]
    shell = section.split("```bash\n", 1)[1].split("```", 1)[0]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in shell.splitlines()]
    return [line for line in lines if line], python


def test_the_readme_quick_start_runs_as_written_against_the_emulator(tmp_path: Path) -> None:
    lines, python = _quick_start()
    serve = next(line for line in lines if line.startswith("fake-artifactory serve"))
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export ")
    )
    endpoint = exports["MLFLOW_ARTIFACTORY_ENDPOINT_URL"]
    # What the README promises is what the emulator does by default.
    default = EmulatorConfig()
    assert endpoint == f"http://{default.host}:{default.port}{default.context_path}"
    assert exports["MLFLOW_ARTIFACTORY_REPO"] == DEFAULT_REPO
    args = shlex.split(serve.rstrip("&").strip())[2:]  # after "fake-artifactory serve"
    with start_process(*args, log_file=tmp_path / "emulator.log") as emulator:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(exports)
        env["MLFLOW_ARTIFACTORY_ENDPOINT_URL"] = emulator.url
        env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        done = subprocess.run(
            [sys.executable, "-c", python],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip().splitlines()[-1] == "hello from MLflow"
        stored = emulator.handle().requests()
    puts = [e["uri"] for e in stored if e["method"] == "PUT"]
    assert any(
        re.search(r"/mlflow-test/[0-9a-f]{32}/artifacts/hello\.txt;mlflow\.run_id=", u)
        for u in puts
    ), puts

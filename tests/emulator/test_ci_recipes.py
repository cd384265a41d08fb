"""The CI recipes of docs/ci.md work: their shell steps, run against this checkout.

Each recipe is a fenced block of docs/ci.md whose info string names its file (```` ```yaml
.gitlab-ci.yml ````); the example tests are blocks named ``tests/...``. A recipe runs in a
fresh project folder holding its example test: every shell step (``run`` of a GitHub
Actions step, the ``script`` lines of a GitLab job) goes to bash the way the CI system
runs it, with the job's variables, ``$RUNNER_TEMP``/``$GITHUB_ENV`` for GitHub Actions and
this environment's ``fake-artifactory``, ``python`` and ``pytest`` first on the ``PATH``.
Steps that set up the machine (``actions/checkout``, ``actions/setup-python``) and the
``pip install`` line are not run: the install line is checked to name this distribution,
an extra it declares and packages installed here, the Python version to be one the
project supports. Every process a step leaves behind (the emulator started with ``&``) is
stopped by its session (found in ``/proc``; Linux only).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"
_BLOCK = re.compile(r"^```(\w+) (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_INSTALL = "python -m pip install "
#: recipe file -> the example test of docs/ci.md its pipeline runs
RECIPES = {
    ".github/workflows/tests.yml": "tests/test_artifacts.py",
    ".gitlab-ci.yml": "tests/test_artifacts.py",
    ".github/workflows/tests-fixture.yml": "tests/test_artifacts_fixture.py",
}
_STEP_TIMEOUT_S = 240


def doc_blocks() -> dict[str, str]:
    """The named blocks of docs/ci.md: file name -> content."""
    return {name: body for _lang, name, body in _BLOCK.findall(DOC.read_text())}


def _project() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with (REPO / "pyproject.toml").open("rb") as fh:
        project: dict[str, Any] = tomllib.load(fh)["project"]
    return project


def check_install_line(command: str) -> None:
    """The install line names this distribution with an extra it declares, and packages
    this environment has (so the checkout's installation stands in for it)."""
    assert command.startswith(_INSTALL), command
    project = _project()
    for word in shlex.split(command[len(_INSTALL) :]):
        req = Requirement(word)
        if req.name == project["name"]:
            assert req.extras <= set(project["optional-dependencies"]), req
        importlib.metadata.version(req.name)  # raises when not installed here


def check_python_version(version: str) -> None:
    assert version in SpecifierSet(_project()["requires-python"]), version


def _base_env(tmp: Path) -> dict[str, str]:
    """This environment, without pytest's or the plugin's variables; our tools first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_ARTIFACTORY_", "PYTEST_", "ARTIFACTORY_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp / "home")
    (tmp / "home").mkdir(exist_ok=True)
    return env


def session_members(sid: int) -> list[int]:
    """The processes of session ``sid`` (Linux ``/proc``). While one lives, the kernel
    keeps ``sid`` from being reused as a process id, so they are ours."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] != "Z":  # a zombie has exited already
            members.append(int(entry))
    return members


class Shell:
    """Runs steps with bash, each in its own session; stops what they leave behind."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.sessions: list[int] = []

    def run(self, script: str, env: Mapping[str, str], flags: tuple[str, ...]) -> str:
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", *flags, "-c", script],
            cwd=self.cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sessions.append(proc.pid)
        out, _ = proc.communicate(timeout=_STEP_TIMEOUT_S)
        assert proc.returncode == 0, f"step failed ({proc.returncode}):\n{script}\n{out}"
        return out

    def stop_all(self) -> None:
        """SIGTERM to every process the steps left running (found by their session),
        SIGKILL to those still there after 15 s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = [pid for sid in self.sessions for pid in session_members(sid)]
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 15
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = [pid for sid in self.sessions for pid in session_members(sid)]
            if not left:
                return


@contextmanager
def shell(cwd: Path) -> Iterator[Shell]:
    sh = Shell(cwd)
    try:
        yield sh
    finally:
        sh.stop_all()


def _project_with(tmp: Path, test_file: str) -> Path:
    project = tmp / "project"
    target = project / test_file
    target.parent.mkdir(parents=True)
    target.write_text(doc_blocks()[test_file])
    return project


def _github_env_file(path: Path) -> dict[str, str]:
    """``$GITHUB_ENV``: ``NAME=value`` lines (the single-line form)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def run_github_actions(workflow: dict[str, Any], project: Path, tmp: Path) -> list[str]:
    """Run every shell step of every job; returns their outputs."""
    outputs = []
    for job in workflow["jobs"].values():
        runner_temp = tmp / "runner-temp"
        runner_temp.mkdir(exist_ok=True)
        github_env = runner_temp / "github-env"
        github_env.write_text("")
        env = _base_env(tmp) | {k: str(v) for k, v in (job.get("env") or {}).items()}
        env |= {"RUNNER_TEMP": str(runner_temp), "GITHUB_ENV": str(github_env)}
        with shell(project) as sh:
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/setup-python@"):
                    check_python_version(str(step["with"]["python-version"]))
                if "run" not in step:
                    continue
                if step["run"].startswith(_INSTALL):
                    check_install_line(step["run"].strip())
                    continue
                step_env = env | {k: str(v) for k, v in (step.get("env") or {}).items()}
                step_env |= _github_env_file(github_env)
                # GitHub's default shell on Linux: bash -e {0}
                outputs.append(sh.run(step["run"], step_env, ("-e",)))
    return outputs


def run_gitlab(pipeline: dict[str, Any], project: Path, tmp: Path) -> list[str]:
    """Run each job's ``script`` in one bash, as the GitLab runner does."""
    outputs = []
    for name, job in pipeline.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        check_python_version(job["image"].split(":", 1)[1])
        env = _base_env(tmp) | {k: str(v) for k, v in (job.get("variables") or {}).items()}
        lines = []
        for line in job["script"]:
            if line.startswith(_INSTALL):
                check_install_line(line.strip())
            else:
                lines.append(line)
        assert lines, f"job {name} runs nothing"
        with shell(project) as sh:
            outputs.append(sh.run("\n".join(lines), env, ("-e", "-o", "pipefail")))
    return outputs


def test_the_page_names_every_recipe_and_example_test():
    blocks = doc_blocks()
    assert set(RECIPES) | set(RECIPES.values()) <= set(blocks)
    for name in RECIPES:
        assert yaml.safe_load(blocks[name]), name


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_the_recipe_runs_the_example_tests_against_the_emulator(recipe, tmp_path):
    """The pipeline's steps start what they need and the example test passes in them."""
    project = _project_with(tmp_path, RECIPES[recipe])
    config = yaml.safe_load(doc_blocks()[recipe])
    if recipe.startswith(".github/"):
        outputs = run_github_actions(config, project, tmp_path)
    else:
        outputs = run_gitlab(config, project, tmp_path)
    assert "1 passed" in outputs[-1], outputs[-1]
    ready = {
        ".github/workflows/tests.yml": tmp_path / "runner-temp" / "emulator.out",
        ".gitlab-ci.yml": project / "emulator.out",
    }
    if recipe in ready:  # the emulator the steps started served the tests
        assert ready[recipe].read_text().startswith("READY http://127.0.0.1:")


def test_a_recipe_step_that_fails_fails_the_run(tmp_path):
    """The runner itself can fail: a step with a failing command is reported."""
    workflow = {"jobs": {"j": {"steps": [{"run": "true"}, {"run": "false\necho never"}]}}}
    with pytest.raises(AssertionError, match="step failed"):
        run_github_actions(workflow, tmp_path, tmp_path)


def test_an_install_line_for_another_distribution_is_refused():
    with pytest.raises(AssertionError):
        check_install_line('python -m pip install "jfrog-mlflow[no-such-extra]"')
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        check_install_line("python -m pip install surely-not-installed-here")

"""The one emulator launcher: ``python -m fake_artifactory serve`` as a real subprocess.

:func:`start_process` starts it and waits for its ``READY <url>`` line;
:class:`EmulatorProcess` stops (SIGTERM), kills (SIGKILL) and inspects it, and knows the
control token the emulator enforces (generated: from the READY line; given: from the
arguments or the environment).  Standard library only, so tests, the demo and the
benchmark can use it without the emulator's server stack being imported in their own
process.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from fake_artifactory.config import env_control_token
from fake_artifactory.testing.handle import FakeArtifactoryHandle, control_headers

__all__ = ["EmulatorProcess", "EmulatorStartError", "start_process"]


class EmulatorStartError(RuntimeError):
    """The emulator process did not print READY in time."""


class EmulatorProcess:
    """A ``fake_artifactory serve`` subprocess; stop with SIGTERM or kill with SIGKILL."""

    def __init__(
        self, proc: subprocess.Popen[str], url: str, control_token: str | None = None
    ) -> None:
        self.proc = proc
        self.url = url
        self.root_url = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        #: The control token the emulator enforces; None when its control plane is open.
        self.control_token = control_token

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for control-plane requests (``{}`` when it is open)."""
        return control_headers(self.control_token)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        """The TCP port the emulator listens on."""
        return int(self.root_url.rsplit(":", 1)[1])

    def handle(self, **kwargs: Any) -> FakeArtifactoryHandle:
        kwargs.setdefault("control_token", self.control_token)
        return FakeArtifactoryHandle(url=self.url, root_url=self.root_url, **kwargs)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._close_pipes()

    def kill(self) -> int:
        """SIGKILL (simulates a crash) and wait."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.stop()


def parse_ready(line: str) -> tuple[str, str | None]:
    """``(url, generated control token or None)`` of a ``READY`` line."""
    words = line.split()
    token = next((w.partition("=")[2] for w in words[2:] if w.startswith("control-token=")), None)
    return words[1], token


def given_control_token(args: Sequence[str], env: Mapping[str, str] | None) -> str | None:
    """The control token the arguments (``--control-token``) or the child's environment
    give an emulator, or None."""
    token = None
    for i, arg in enumerate(args):
        if arg == "--control-token" and i + 1 < len(args):
            token = args[i + 1]
        elif arg.startswith("--control-token="):
            token = arg.partition("=")[2]
    return token if token is not None else env_control_token(env)


def start_process(
    *args: str,
    data_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30,
    log_file: str | os.PathLike[str] | None = None,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> EmulatorProcess:
    """Run ``python -m fake_artifactory serve --port PORT [args]`` and wait for READY.

    ``log_file``: append the emulator's stderr (its log) there instead of discarding it.
    ``port``: 0 picks a free one; a fixed port lets a test restart on the same URL.
    ``env``/``cwd``: the child's environment (default: ours) and working directory.
    """
    cmd = [sys.executable, "-m", "fake_artifactory", "serve", "--port", str(port), *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(Path(data_dir))]
    popen: dict[str, Any] = {"text": True, "bufsize": 1, "cwd": cwd, "env": env}
    if log_file is None:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **popen)
    else:
        with open(log_file, "ab") as err:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, **popen)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(deadline - time.monotonic(), 0)):
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("READY "):
                url, generated = parse_ready(line)
                token = generated or given_control_token(args, env)
                return EmulatorProcess(proc, url, token)
    proc.kill()
    proc.wait()
    where = f"; see {log_file}" if log_file is not None else ""
    raise EmulatorStartError(f"fake_artifactory did not become ready: {' '.join(cmd)}{where}")

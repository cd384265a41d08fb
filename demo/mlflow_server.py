"""``mlflow server`` as a real child process, shared by the demo and the end-to-end tests.

The server listens on 127.0.0.1 on a free port, keeps its SQLite backend store and its log
in a working directory, and is stopped as a whole process group (uvicorn runs its worker
as a child).  Use it as a context manager: entering starts it and waits until ``/health``
answers, leaving stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import requests

__all__ = ["MlflowServer", "free_port"]


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (callers retry if it was taken)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on a free port with a SQLite backend store under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        args: Sequence[str],
        env: Mapping[str, str],
        db_name: str = "mlflow.db",
    ) -> None:
        self.workdir = workdir
        self.db = workdir / db_name
        self.backend_store_uri = f"sqlite:///{self.db}"
        self.args = list(args)
        self.env = dict(env)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3, timeout: float = 120) -> MlflowServer:
        """Start the server and wait for ``/health``; raise RuntimeError if it never answers."""
        for _ in range(attempts):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                self.backend_store_uri,
                *self.args,
            ]
            with self.log.open("ab") as log:  # the child keeps its own handle
                self.proc = subprocess.Popen(
                    cmd,
                    cwd=self.workdir,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # uvicorn runs as a child: stop the whole group
                )
            try:
                healthy = self._wait_healthy(timeout)
            except BaseException:  # Ctrl-C or anything unexpected: never leave a server behind
                self.stop()
                raise
            if healthy:
                return self
            self.stop()
        raise RuntimeError(f"mlflow server did not start:\n{self.tail()}")

    def _wait_healthy(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return True
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            time.sleep(0.2)
        return False

    def tail(self, chars: int = 4000) -> str:
        """The end of the server's log (empty if there is none)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers; idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=3)  # nothing to flush: SQLite commits per request
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

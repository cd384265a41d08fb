"""The servers the benchmark talks to, started as real processes on free loopback ports.

* the emulator: ``python -m fake_artifactory serve --port 0 ...``; it prints
  ``READY <base-url>`` once listening (the CLI contract of the foundation issue);
* moto's S3 server: ``python -m moto.server`` from the competitors' environment.

Both are stopped with SIGTERM (then SIGKILL) when their context manager exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from fake_artifactory.testing import control_headers, start_process

__all__ = [
    "BENCH_TOKEN",
    "Emulator",
    "MotoServer",
    "free_port",
    "start_emulator",
    "start_moto",
]

log = logging.getLogger(__name__)

#: Token the emulator is started with; a benchmark-only value, not a secret.
BENCH_TOKEN = "bench-token-not-a-secret"
DEFAULT_REPO = "example-repo-local"
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Emulator:
    """A running emulator: ``url`` ends in ``/artifactory``; ``root_url`` has the control plane."""

    url: str
    root_url: str
    pid: int
    token: str = BENCH_TOKEN
    repo: str = DEFAULT_REPO
    #: False for ``--workers`` (throughput mode: no request journal).
    journal: bool = True
    #: The emulator's control token (None: its control plane is open, as on loopback).
    control_token: str | None = field(default=None, repr=False)
    #: The ``serve`` options it was started with beyond the port and token (its settings).
    args: tuple[str, ...] = ()

    def as_spec(self) -> dict[str, str]:
        """The part of a child spec that tells a contender where Artifactory is."""
        spec = {"url": self.url, "root_url": self.root_url, "token": self.token, "repo": self.repo}
        if self.control_token:
            spec["control_token"] = self.control_token
        return spec

    def delete(self, path: str) -> None:
        """Delete ``path`` (a file or folder under ``bench/``) through the REST API."""
        requests.delete(
            f"{self.url}/{self.repo}/bench/{path}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        ).raise_for_status()

    def clear_journal(self) -> None:
        """Forget the request journal (the count of the next run starts at zero)."""
        if self.journal:
            requests.delete(
                f"{self.root_url}/_fake/requests",
                headers=control_headers(self.control_token),
                timeout=60,
            ).raise_for_status()


@dataclass(frozen=True, slots=True)
class MotoServer:
    """A running moto server (S3 endpoint ``endpoint``)."""

    endpoint: str
    pid: int

    def as_spec(self) -> dict[str, str]:
        return {"endpoint": self.endpoint}

    def reset(self) -> None:
        """Drop every bucket and object (moto's own reset endpoint)."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=120).raise_for_status()


def free_port() -> int:
    """Ask the kernel for a free loopback port (for servers without ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def start_emulator(
    extra_args: Sequence[str] = (), log_file: Path | None = None
) -> Iterator[Emulator]:
    """Start the emulator on a free port and yield it once it answers."""
    with start_process(
        "--token", BENCH_TOKEN, *extra_args, timeout=_START_TIMEOUT_S, log_file=log_file
    ) as proc:
        log.info("emulator %s up at %s", " ".join(extra_args), proc.url)
        journal = "--workers" not in extra_args
        yield Emulator(
            url=proc.url,
            root_url=proc.root_url,
            pid=proc.pid,
            journal=journal,
            control_token=proc.control_token,
            args=tuple(extra_args),
        )


@contextmanager
def start_moto(python: str, log_file: Path | None = None) -> Iterator[MotoServer]:
    """Start ``moto.server`` with ``python`` on a free port and yield it once it answers."""
    port = free_port()
    cmd = [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    stderr = log_file.open("ab") if log_file else subprocess.DEVNULL
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    proc = subprocess.Popen(cmd, stdout=stderr, stderr=stderr, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited early (status {proc.returncode})")
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start in time") from None
                time.sleep(0.2)
        yield MotoServer(endpoint=endpoint, pid=proc.pid)
    finally:
        _stop(proc)
        if log_file and stderr is not subprocess.DEVNULL:
            stderr.close()  # type: ignore[union-attr]

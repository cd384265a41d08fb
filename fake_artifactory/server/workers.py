"""``serve --workers N``: N emulator processes on one port, sharing one data dir.

A throughput mode for load tests (one Python process serialises its request handling on
the GIL). The parent prepares the data dir once (schema, configured repositories,
``--seed``, TLS material), reserves the port, then forks N
children that each run a :class:`~fake_artifactory.server.ThreadedServer` listening on
that port with ``SO_REUSEPORT``, so the kernel spreads connections over them. It prints
``READY <url>`` once every child listens, forwards SIGTERM/SIGINT, and stops everything
(exit 1) if a child dies.

What the processes share is the data dir: SQLite in WAL mode serialises their writes,
blobs are content addressed, and a change to repositories or tokens bumps a counter that
every process checks per request (:meth:`~fake_artifactory.store.Store.sync_shared`).
What cannot be shared is refused (see :func:`fake_artifactory.control.views.refused_with_workers`):
the request journal, fault rules (``--faults`` is refused at start), run-time settings and
snapshot imports. Unreferenced blobs are not collected while several processes run (a
later single-process run does it); an ephemeral data dir is removed by the parent.
Linux (fork and ``SO_REUSEPORT``) only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from fake_artifactory.config import ConfigurationError, EmulatorConfig, with_control_token
from fake_artifactory.server.background import root_url
from fake_artifactory.server.private_files import write_control_token
from fake_artifactory.server.threaded import ThreadedServer
from fake_artifactory.web.emulator import Emulator

log = logging.getLogger(__name__)

#: How long the parent waits for every child to listen, and for them to exit on stop.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def _reserve_port(host: str, port: int) -> socket.socket:
    """A bound, not listening, ``SO_REUSEPORT`` socket holding the port for the children
    (the kernel only hands connections to listening sockets)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _prepare(config: EmulatorConfig, scratch: Path) -> EmulatorConfig:
    """Initialise the data dir once and return the configuration of every child.

    The control token was settled before (every child enforces the same one); the
    parent writes its file, the children do not.
    """
    changes: dict[str, object] = {"seed": None, "control_token_file": None}
    write_control_token(config)
    if config.tls_self_signed_ca is not None:
        from fake_artifactory.server.tls import make_self_signed

        cert, key = make_self_signed(config.tls_self_signed_ca, scratch)
        changes.update(tls_cert=cert, tls_key=key, tls_self_signed_ca=None)
    # Schema, configured repositories and the seed, once, by one process.
    Emulator(dataclasses.replace(config, workers=1)).close()
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def _child(config: EmulatorConfig, ready_fd: int) -> int:
    """Body of one worker process: serve until SIGTERM/SIGINT."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = ThreadedServer(config)
    try:
        server.start()
    except Exception:  # noqa: BLE001 - reported by the parent as a failed start
        log.exception("worker %d could not start", os.getpid())
        server.stop()
        return 1
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _fork_child(config: EmulatorConfig, ready_fd: int) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; exercised through the CLI tests
        code = 1
        try:
            code = _child(config, ready_fd)
        finally:
            logging.shutdown()
            os._exit(code)
    return pid


def _stop_children(pids: dict[int, int | None]) -> None:
    for pid, status in pids.items():
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for pid, status in pids.items():
        while status is None and time.monotonic() < deadline:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                pids[pid] = status = code
            else:
                time.sleep(0.05)
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _reap(pids: dict[int, int | None]) -> int | None:
    """Record the status of a child that has exited and return its pid (None: all run)."""
    for pid, status in pids.items():
        if status is None:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                pids[pid] = code
                return pid
    return None


def _wait_ready(read_fd: int, pids: dict[int, int | None]) -> bool:
    """True once every child wrote its byte; False if one exited or time ran out."""
    got = 0
    deadline = time.monotonic() + START_TIMEOUT_S
    while got < len(pids):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        readable, _, _ = select.select([read_fd], [], [], min(left, 0.2))
        if readable:
            got += len(os.read(read_fd, len(pids)))
        if _reap(pids) is not None:
            return False
    return True


def serve_workers(
    config: EmulatorConfig, stop: threading.Event, announce: Callable[[str], None]
) -> int:
    """Run ``config.workers`` emulator processes until ``stop`` is set; the exit code.

    ``announce`` gets the base URL once every process listens.

    Raises:
        ConfigurationError: no fork/SO_REUSEPORT, or a worker failed to start.
        OSError: the port cannot be bound.
    """
    if not hasattr(os, "fork") or not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigurationError("--workers needs fork() and SO_REUSEPORT (Linux)")
    config = with_control_token(config)
    scratch = Path(tempfile.mkdtemp(prefix="fake-artifactory-workers-"))
    if config.data_dir is None:
        fsync = "never" if config.fsync == "auto" else config.fsync
        config = dataclasses.replace(config, data_dir=scratch / "data", fsync=fsync)
    pids: dict[int, int | None] = {}
    holder: socket.socket | None = None
    try:
        config = _prepare(config, scratch)
        holder = _reserve_port(config.host, config.port)
        config = dataclasses.replace(config, port=int(holder.getsockname()[1]))
        read_fd, write_fd = os.pipe()
        try:
            for _ in range(config.workers):
                pids[_fork_child(config, write_fd)] = None
        finally:
            os.close(write_fd)
        ready = _wait_ready(read_fd, pids)
        os.close(read_fd)
        if not ready:
            raise ConfigurationError("a worker process failed to start (see the log above)")
        scheme = "https" if config.tls_cert is not None else "http"
        announce(root_url(scheme, config.host, config.port) + config.context_path.rstrip("/"))
        while not stop.wait(0.5):
            dead = _reap(pids)
            if dead is not None:
                log.error("worker %d exited (status %s); stopping", dead, pids[dead])
                return 1
        return 0
    finally:
        _stop_children(pids)
        if holder is not None:
            holder.close()
        shutil.rmtree(scratch, ignore_errors=True)

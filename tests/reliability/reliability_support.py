"""Shared helpers for the reliability and security evidence.

Everything here talks to real things: the emulator runs as a subprocess started
through its CLI (``python -m fake_artifactory serve``, by
:func:`fake_artifactory.testing.start_process`), so a test can stop it,
``kill -9`` it, restart it on the same data directory and read its memory use from
``/proc``.  Nothing here asserts on wall-clock time.

Sizes scale with ``RELIABILITY_SCALE`` (default 1).  The default run keeps every
test to a few seconds; ``RELIABILITY_SCALE=10`` gives the full-size figures
(2,000-file trees, 16 x 600 load operations).  Figures are appended as JSON lines
to the file named by ``RELIABILITY_FIGURES`` when it is set, so
``docs/reliability.md`` can be regenerated from a real run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from fake_artifactory.testing import EmulatorProcess, EmulatorStartError, start_process

#: Secrets used by the tests. Distinctive, so a search for them in logs cannot miss.
TOKEN = "rel-secret-token-7f3a9c1e5b"
API_KEY = "AKCpRelSecretApiKey0123456789abcdefABCDEF"
USER = "reluser"
PASSWORD = "rel-secret-password-4d2e8b"
REPO = "example-repo-local"

ROOT = Path(__file__).resolve().parents[2]


def scale() -> int:
    """The ``RELIABILITY_SCALE`` multiplier (>= 1)."""
    try:
        return max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
    except ValueError:
        return 1


def record_figure(name: str, **values: Any) -> None:
    """Append one figure to ``$RELIABILITY_FIGURES`` (JSON lines) if that is set."""
    target = os.environ.get("RELIABILITY_FIGURES")
    line = json.dumps({"figure": name, "scale": scale(), **values}, sort_keys=True)
    print(f"FIGURE {line}")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def free_port() -> int:
    """A port that was free a moment ago (for restarts on a fixed port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator(EmulatorProcess):
    """One emulator subprocess (``url`` ends with ``/artifactory``), started by the
    emulator's own launcher, plus what these tests read from it: its log and memory."""

    def __init__(
        self,
        started: EmulatorProcess,
        stderr_path: Path,
        args: tuple[str, ...],
        data_dir: Path | None,
    ) -> None:
        super().__init__(started.proc, started.url)
        self.stderr_path = stderr_path
        self.args = args
        self.data_dir = data_dir

    @property
    def repo_url(self) -> str:
        return f"{self.url}/{REPO}"

    def session(self, verify: str | bool = True) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        s.verify = verify
        return s

    def stop(self, timeout: float = 30) -> int:
        """Graceful stop (SIGTERM); ``kill -9`` if it does not exit in time."""
        try:
            return super().stop(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def rss_kib(self, field_name: str = "VmRSS") -> int:
        """Resident memory of the server process from /proc (``VmRSS`` or ``VmHWM``)."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        for line in text.splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field_name} not in /proc status")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    # --- control plane -------------------------------------------------------------
    def add_faults(self, *rules: Mapping[str, Any]) -> None:
        for rule in rules:
            r = requests.post(f"{self.root_url}/_fake/faults", json=dict(rule), timeout=10)
            assert r.status_code in (200, 201), (r.status_code, r.text)

    def clear_faults(self) -> None:
        r = requests.delete(f"{self.root_url}/_fake/faults", timeout=10)
        assert r.status_code in (200, 204), (r.status_code, r.text)

    def journal(self) -> list[dict[str, Any]]:
        r = requests.get(f"{self.root_url}/_fake/requests", timeout=30)
        r.raise_for_status()
        body = r.json()
        if isinstance(body, dict):
            body = body.get("requests", body.get("entries", []))
        assert isinstance(body, list)
        return body

    def journal_text(self) -> str:
        return requests.get(f"{self.root_url}/_fake/requests", timeout=30).text


def start_emulator(
    tmp: Path,
    *extra: str,
    data_dir: Path | None = None,
    port: int = 0,
    start_timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> Emulator:
    """Start ``python -m fake_artifactory serve`` (via ``testing.start_process``) in ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    stderr_path = tmp / f"emulator-{time.monotonic_ns()}.stderr"
    full_env = dict(os.environ)
    full_env.pop("REQUESTS_CA_BUNDLE", None)
    if env:
        full_env.update(env)
    try:
        started = start_process(
            "--token",
            TOKEN,
            *extra,
            data_dir=data_dir,
            port=port,
            timeout=start_timeout,
            log_file=stderr_path,
            env=full_env,
            cwd=tmp,
        )
    except EmulatorStartError as exc:
        raise RuntimeError(f"{exc}\n{stderr_path.read_text()[-3000:]}") from None
    return Emulator(started, stderr_path, tuple(extra), data_dir)


@contextlib.contextmanager
def running_emulator(tmp: Path, *extra: str, **kw: Any) -> Iterator[Emulator]:
    emu = start_emulator(tmp, *extra, **kw)
    try:
        yield emu
    finally:
        emu.kill()


# --- trees -------------------------------------------------------------------------------


def make_tree(root: Path, n_files: int, seed: int, max_size: int = 6000) -> dict[str, bytes]:
    """Write ``n_files`` files in nested folders under ``root``; return rel path -> bytes."""
    rng = random.Random(seed)
    n_dirs = max(1, n_files // 30)
    dirs = [""]
    for i in range(n_dirs):
        parent = rng.choice(dirs)
        dirs.append(f"{parent}d{i}/" if parent else f"d{i}/")
    files: dict[str, bytes] = {}
    for i in range(n_files):
        rel = f"{rng.choice(dirs)}f{i}.bin"
        size = rng.randint(0, max_size) if i % 17 else 0
        files[rel] = rng.randbytes(size)
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` as rel path -> bytes."""
    out: dict[str, bytes] = {}
    for p in root.rglob("*"):
        if p.is_file() or p.is_symlink():
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot_dir(root: Path, exclude: Path | None = None) -> dict[str, tuple[int, int]]:
    """Paths under ``root`` (not under ``exclude``) with (size, mtime_ns)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if exclude is not None and (d == exclude or exclude in d.parents):
            dirnames[:] = []
            continue
        for name in filenames + dirnames:
            p = d / name
            if exclude is not None and p == exclude:
                continue
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def stored_files(emu: Emulator, folder: str) -> dict[str, str]:
    """Deep file list of ``folder`` in the repo: rel path -> sha256 (no faults must be set)."""
    with emu.session() as s:
        r = s.get(
            f"{emu.url}/api/storage/{REPO}/{folder}",
            params={"list": "1", "deep": "1", "listFolders": "0"},
            timeout=60,
        )
    if r.status_code == 404:
        return {}
    r.raise_for_status()
    return {e["uri"].lstrip("/"): e["sha2"] for e in r.json()["files"] if not e["folder"]}


# --- raw HTTP ------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int | None  # None: the server closed the connection without a response
    headers: dict[str, str]
    body: bytes


def raw_request(
    port: int,
    request: bytes,
    timeout: float = 30.0,
    shutdown_write: bool = False,
) -> RawResponse:
    """Send exact bytes to 127.0.0.1:port and read one response until EOF.

    The request should carry ``Connection: close``.  ``status`` is None when the
    server closed or reset the connection without answering.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks: list[bytes] = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass
    return parse_raw_response(b"".join(chunks))


def parse_raw_response(data: bytes) -> RawResponse:
    if not data:
        return RawResponse(None, {}, b"")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return RawResponse(None, {}, data)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(status, headers, body)


def secrets_in(text: str, secrets: tuple[str, ...]) -> list[str]:
    """The secrets (or their Basic/base64 forms) that occur in ``text``."""
    import base64

    found = []
    for secret in secrets:
        forms = {secret, base64.b64encode(f"{USER}:{secret}".encode()).decode()}
        if any(form in text for form in forms):
            found.append(secret)
    return found


ALL_SECRETS = (TOKEN, API_KEY, PASSWORD)

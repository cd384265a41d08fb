"""Child processes the harness times: peak memory of a child, the emulator's start-up and
the whole ``make test``."""

from __future__ import annotations

import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.venv import REPO_ROOT

__all__ = ["make_test", "serve_to_ready", "wait_with_peak_rss"]


def _read_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def wait_with_peak_rss(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int]:
    """Wait for ``proc``; return (exit status, its peak RSS in KiB).

    The peak is the child's own ``VmHWM``, sampled every 20 ms until it exits (the value
    only grows). ``wait4``'s ``ru_maxrss`` would be wrong here: a forked child inherits
    the harness's own high-water mark from before its ``exec``.
    """
    deadline = time.monotonic() + timeout
    peak = 0
    while proc.poll() is None:
        hwm = _read_hwm_kib(proc.pid)
        if hwm is not None:
            peak = max(peak, hwm)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            break
        time.sleep(0.02)
    return int(proc.returncode), peak


def serve_to_ready() -> dict[str, Any]:
    """Seconds from starting ``fake-artifactory serve`` to its READY line."""
    script = Path(sys.executable).parent / "fake-artifactory"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "fake_artifactory"]
    cmd += ["serve", "--port", "0"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = ""
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if sel.select(timeout=60):
                line = proc.stdout.readline()
        seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
    if not line.startswith("READY "):
        return {"error": f"no READY line (got {line[:80]!r})"}
    return {"ready_s": seconds, "command": " ".join(["fake-artifactory", *cmd[-3:]])}


def make_test(log_file: Path) -> dict[str, Any]:
    """Seconds of the whole ``make test`` of this checkout (lint, types, tests,
    conformance), and whether it passed."""
    start = time.perf_counter()
    with log_file.open("wb") as out:
        status = subprocess.run(
            ["make", "test"], cwd=REPO_ROOT, stdout=out, stderr=out, check=False
        ).returncode
    data: dict[str, Any] = {"make_test_s": time.perf_counter() - start, "status": status}
    if status != 0:
        data["error"] = f"make test exited with status {status} (see {out.name})"
    return data

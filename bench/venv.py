"""The benchmark's extra virtual environments.

* ``bench/.venv-competitors``: JFrog's plugin, moto and boto3 are installed only here, never
  in the project's ``.venv``. The environment also gets the project itself (editable),
  pinned to the same MLflow, so the competitors run with exactly the MLflow our plugin runs
  with.
* ``bench/.venv-skinny``: our plugin with its declared dependencies only, that is on
  ``mlflow-skinny`` (MLflow's client distribution without pandas or pyarrow), pinned to the
  project's MLflow version; W3 measures its memory.

Each is rebuilt when ``bench/requirements-competitors.txt``, ``pyproject.toml`` or the
project's MLflow version change (a stamp file holds their hash).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "SKINNY_DIR", "VENV_DIR", "ensure_competitor_venv", "ensure_skinny_venv"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / "bench" / ".venv-competitors"
SKINNY_DIR = REPO_ROOT / "bench" / ".venv-skinny"
REQUIREMENTS = REPO_ROOT / "bench" / "requirements-competitors.txt"
_STAMP = ".bench-stamp"


def _wanted_stamp(extra: str = "") -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, REPO_ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    digest.update(extra.encode())
    return digest.hexdigest()


def _ensure(venv_dir: Path, installs: list[list[str]], what: str, stamp: str) -> Path | None:
    """Create or refresh a venv with ``pip install`` of each of ``installs``; its python."""
    python = venv_dir / "bin" / "python"
    stamp_file = venv_dir / _STAMP
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    log.warning("building the %s environment in %s (takes a minute)", what, venv_dir)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True
            )
        for args in installs:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        log.error("could not build the %s environment: %s", what, exc)
        return None
    stamp_file.write_text(stamp)
    return python


def ensure_competitor_venv(venv_dir: Path = VENV_DIR) -> Path | None:
    """Create or refresh the competitors' environment; its python, or None if it fails."""
    installs = [["-e", str(REPO_ROOT), "-r", str(REQUIREMENTS)]]
    return _ensure(venv_dir, installs, "competitors'", _wanted_stamp())


def ensure_skinny_venv(venv_dir: Path = SKINNY_DIR) -> Path | None:
    """Create or refresh the mlflow-skinny environment; its python, or None if it fails."""
    version = importlib.metadata.version("mlflow")
    installs = [[f"mlflow-skinny=={version}", "-e", str(REPO_ROOT)]]
    return _ensure(venv_dir, installs, "mlflow-skinny", _wanted_stamp(f"skinny {version}"))

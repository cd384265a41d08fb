"""The competitors' virtual environment (``bench/.venv-competitors``).

JFrog's plugin, moto and boto3 are installed only here, never in the project's ``.venv``.
The environment also gets the project itself (editable), pinned to the same MLflow, so the
competitors run with exactly the MLflow our plugin runs with. It is rebuilt when
``bench/requirements-competitors.txt`` or ``pyproject.toml`` change (a stamp file holds
their hash).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "VENV_DIR", "ensure_competitor_venv"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / "bench" / ".venv-competitors"
REQUIREMENTS = REPO_ROOT / "bench" / "requirements-competitors.txt"
_STAMP = ".bench-stamp"


def _wanted_stamp() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, REPO_ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_competitor_venv(venv_dir: Path = VENV_DIR) -> Path | None:
    """Create or refresh the environment; return its python, or None if it cannot be built."""
    python = venv_dir / "bin" / "python"
    stamp_file = venv_dir / _STAMP
    wanted = _wanted_stamp()
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == wanted:
        return python
    log.warning("building the competitors' environment in %s (takes a minute)", venv_dir)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True
            )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", str(REPO_ROOT)]
            + ["-r", str(REQUIREMENTS)],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        log.error("could not build the competitors' environment: %s", exc)
        return None
    stamp_file.write_text(wanted)
    return python

"""Files only the emulator's user may read: the control token file, TLS private keys."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from fake_artifactory.config import EmulatorConfig

__all__ = ["write_control_token", "write_private"]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (mode 0600).

    The bytes go to a new file (``mkstemp`` creates it 0600) that is then renamed over
    ``path``, so a file that already existed there with a looser mode never holds them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_control_token(config: EmulatorConfig) -> None:
    """Write the control token in force to ``control_token_file``, when both are set."""
    if config.control_token_file is not None and config.control_token is not None:
        write_private(config.control_token_file, config.control_token.encode("utf-8"))

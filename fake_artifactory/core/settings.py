"""Run-time settings of the emulator that the control plane may change (pure).

Today that is Artifactory's "Folder Download" general settings: whether
``GET /api/archive/download/...`` is enabled and its limits.  They start from the
:class:`~fake_artifactory.config.EmulatorConfig` and ``/_fake/settings/folder-download``
changes or restores them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from fake_artifactory.config import EmulatorConfig


@dataclass(slots=True)
class FolderDownloadSettings:
    """The "Folder Download" general settings."""

    enabled: bool = False
    max_files: int = 5000
    max_size_mb: int = 1024
    max_parallel: int = 10

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> FolderDownloadSettings:
        return cls(
            enabled=config.folder_download,
            max_files=config.folder_download_max_files,
            max_size_mb=config.folder_download_max_size_mb,
            max_parallel=config.folder_download_max_parallel,
        )


class FolderDownloadState:
    """Settings plus the count of folder downloads in progress (thread-safe)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.settings = FolderDownloadSettings.from_config(config)
        self.active = 0
        self.lock = threading.Lock()

    def update(self, changes: dict[str, Any]) -> FolderDownloadSettings:
        """Apply a partial JSON update; ValueError on an unknown key or a bad value."""
        with self.lock:
            current = asdict(self.settings)
            for key, value in changes.items():
                if key not in current:
                    raise ValueError(f"unknown setting {key!r}; one of {sorted(current)}")
                if key == "enabled":
                    if not isinstance(value, bool):
                        raise ValueError("enabled must be true or false")
                elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be an integer >= 0")
                current[key] = value
            self.settings = FolderDownloadSettings(**current)
            return self.settings

    def restore(self) -> FolderDownloadSettings:
        """Back to the settings the emulator was started with."""
        with self.lock:
            self.settings = FolderDownloadSettings.from_config(self.config)
            return self.settings

    def try_acquire(self) -> bool:
        """Take a download slot; False when ``max_parallel`` downloads are running."""
        with self.lock:
            if self.active >= self.settings.max_parallel:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.active -= 1

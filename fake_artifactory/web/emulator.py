"""The :class:`Emulator`: everything one app instance owns, and :func:`current_emulator`."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from flask import current_app

from fake_artifactory.config import ConfigurationError, EmulatorConfig
from fake_artifactory.core.directory import Directory
from fake_artifactory.core.faults import FaultRegistry
from fake_artifactory.core.journal import Journal
from fake_artifactory.core.records import TokenRecord, now_ms
from fake_artifactory.core.security import SecurityState
from fake_artifactory.core.settings import FolderDownloadState
from fake_artifactory.store import Store
from fake_artifactory.store.snapshot import SnapshotError, import_snapshot

#: Key of the :class:`Emulator` in ``app.extensions``.
EXTENSION_KEY = "fake_artifactory"


class Emulator:
    """Config, store, fault rules, request journal and run-time settings of one app.

    ``journal`` is None with ``--workers`` (a journal cannot span processes).
    """

    config: EmulatorConfig
    store: Store
    faults: FaultRegistry
    journal: Journal | None
    directory: Directory
    folder_download: FolderDownloadState
    started_ms: int

    def __init__(self, config: EmulatorConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = (
            store
            if store is not None
            else Store(
                config.data_dir,
                config.repos,
                fsync=config.fsync,
                shared=config.workers > 1,
                users=config.users,
                anonymous=config.anonymous,
            )
        )
        try:
            if config.seed is not None:
                self._load_seed(config.seed)
            self.faults = FaultRegistry(seed=config.fault_seed, context_path=config.context_path)
            if config.faults_file is not None:
                self.faults.load_file(config.faults_file)
        except BaseException:
            self.store.close()
            raise
        self.journal = Journal() if config.workers == 1 else None
        self.directory = Directory(config, self._security_state, self._find_token)
        self.folder_download = FolderDownloadState(config)
        self.started_ms = now_ms()

    def _security_state(self) -> SecurityState:
        return self.store.security_state()

    def _find_token(self, digest: str) -> TokenRecord | None:
        return self.store.find_token(digest=digest)

    def _load_seed(self, seed: Path) -> None:
        try:
            with seed.open("rb") as fh:
                import_snapshot(self.store, fh)
        except (OSError, SnapshotError) as exc:
            raise ConfigurationError(f"cannot load seed snapshot {seed}: {exc}") from None

    def reset(self, repo: str | None = None) -> None:
        """Drop all state, or one repository's content; a full reset also empties the
        journal, removes fault rules and restores the run-time settings."""
        self.store.reset(repo)
        if repo is None:
            if self.journal is not None:
                self.journal.clear()
            self.faults.clear()
            self.folder_download.restore()

    def close(self) -> None:
        self.store.close()


def current_emulator() -> Emulator:
    """The Emulator of the app handling the current request."""
    return cast(Emulator, current_app.extensions[EXTENSION_KEY])

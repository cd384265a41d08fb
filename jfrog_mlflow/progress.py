"""Progress of a transfer on MLflow's bars, without MLflow here.

MLflow's ``ArtifactProgressBar.chunks`` advances one chunk per ``update()``; it appears
only for files MLflow deems big enough, and only when
``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` allows. :class:`ByteProgress` turns the byte
counts a transfer reports into those steps. :class:`FileCount` counts files on
``ArtifactProgressBar.files``. :mod:`jfrog_mlflow.repository` hands both their bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["PROGRESS_CHUNK", "ByteProgress", "FileCount"]

#: Bytes per step of a byte progress bar.
PROGRESS_CHUNK = 1024 * 1024


class ByteProgress:
    """A ``(done, total)`` callback that advances a bar opened on first use by
    ``open_bar(total)`` (an object with ``update()`` and the context-manager exit)."""

    def __init__(self, open_bar: Callable[[int], Any]) -> None:
        self._open_bar = open_bar
        self._bar: Any = None
        self._chunks = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = self._open_bar(total)
        # whole chunks so far; the last, partial one once everything is there
        target = -(-done // PROGRESS_CHUNK) if done >= total else done // PROGRESS_CHUNK
        while self._chunks < target:
            self._bar.update()
            self._chunks += 1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


class FileCount:
    """Counts files done on an ``ArtifactProgressBar.files`` bar, redrawn at tqdm's pace.

    MLflow's ``update()`` redraws the whole bar after every file (an explicit
    ``refresh()``), which costs a tree upload of small files about a tenth of its client
    CPU. This advances the bar's tqdm directly instead, which redraws at most every
    ``mininterval`` (0.1 s) and draws the final count when the bar closes. Without a
    drawn bar (turned off, or tqdm missing) it does nothing, as MLflow's would.
    """

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._tqdm: Any = getattr(bar, "pbar", None)

    def update(self) -> None:
        if self._tqdm is not None:
            self._tqdm.update(1)

    def __enter__(self) -> FileCount:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

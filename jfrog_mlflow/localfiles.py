"""Writing downloaded bytes to local files: never a partial file at the destination.

Every download (one file, a byte-ranged file, a member of a folder archive) goes through
:func:`replacing`: the bytes land in a new temporary file beside the destination, created
with ``O_EXCL`` and never through a symbolic link, and the file is renamed over the
destination only once the caller has verified it. An error on the way removes the
temporary file, so a failed or corrupted transfer leaves nothing behind and an existing
destination file keeps its old content. No network, no MLflow.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["create_temp", "pwrite_all", "replacing", "write_all"]

#: Largest ``write`` to a downloaded file. The page cache backs a large write with large
#: folios (high-order pages); on a VM that hands its free memory back to the host (free
#: page reporting) those are the pages most likely to be cold, and faulting them in
#: stalls the writer. Small writes stay on order-0 pages, which are usually warm.
_WRITE_PIECE = 16 * 1024
#: Flags of a temporary file: created new, never through a symlink.
_TMP_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
#: Distinguishes the temporary files of one process (with the pid and a random tag).
_tmp_counter = itertools.count()
_TMP_TAG = os.urandom(4).hex()


def create_temp(local_path: str) -> tuple[int, str]:
    """A new, empty temporary file beside ``local_path`` (``O_EXCL``): ``(fd, path)``.

    The name is unique per process and call (pid, a random per-process tag and a counter);
    a leftover of a crashed process with the same name is never reused, the next number is.
    """
    directory = os.path.dirname(local_path) or "."
    while True:
        tmp = os.path.join(
            directory, f".jfrog-mlflow-{os.getpid()}-{_TMP_TAG}-{next(_tmp_counter)}.part"
        )
        try:
            return os.open(tmp, _TMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def replacing(local_path: str) -> Iterator[int]:
    """Yield the descriptor of a new temporary file that replaces ``local_path`` on success.

    Leaving the block normally closes the file and renames it over ``local_path``; leaving
    it with an error (a failed verification included) closes and removes it.
    """
    fd, tmp = create_temp(local_path)
    closed = False
    try:
        yield fd
        closed = True
        os.close(fd)
        os.replace(tmp, local_path)
    except BaseException:
        if not closed:
            os.close(fd)
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` in pieces of at most :data:`_WRITE_PIECE` bytes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:_WRITE_PIECE]) :]


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """``pwrite`` all of ``data`` at ``offset``, in pieces like :func:`write_all`."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view[:_WRITE_PIECE], offset)
        view = view[written:]
        offset += written

"""Content-addressed blob files and checksum rules (no HTTP, no metadata).

Blobs live under ``<root>/blobs/<sha256[:2]>/<sha256>`` and never change once written.
Uploads are staged in ``<root>/tmp`` while sha1/md5/sha256 are computed in one pass,
fsynced, then renamed into place (and the directory fsynced) when committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from fake_artifactory.errors import ChecksumMismatch

CHUNK_SIZE = 1024 * 1024
CHECKSUM_ALGS = ("sha1", "md5", "sha256")
_ALG_LABEL = {"sha1": "SHA-1", "md5": "MD5", "sha256": "SHA-256"}


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """A fully received, fsynced upload waiting in ``tmp/`` to be committed."""

    tmp_path: Path
    size: int
    sha1: str
    md5: str
    sha256: str

    def checksums(self) -> dict[str, str]:
        return {"sha1": self.sha1, "md5": self.md5, "sha256": self.sha256}

    def discard(self) -> None:
        """Remove the staged file (after a rejected deploy)."""
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()


def checksum_policy_message(
    repo: str, path: str, sent: Mapping[str, str], actual: Mapping[str, str]
) -> str:
    """The exact 409 message of the CLIENT checksum policy."""

    def info(alg: str) -> str:
        label = _ALG_LABEL[alg]
        original = sent.get(alg) or "null"
        return (
            f"{label}=ChecksumInfo{{type={label}, original='{original}', actual='{actual[alg]}'}}"
        )

    inner = ", ".join(info(alg) for alg in CHECKSUM_ALGS)
    return (
        f"Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact "
        f"'{repo}:{path}'. Checksums info: ChecksumsInfo{{checksums={{{inner}}}}}"
    )


def verify_client_checksums(
    repo: str, path: str, sent: Mapping[str, str], actual: Mapping[str, str]
) -> None:
    """Raise ChecksumMismatch if any client-sent checksum differs from the actual one."""
    for alg, value in sent.items():
        if value and value.lower() != actual[alg]:
            raise ChecksumMismatch(checksum_policy_message(repo, path, sent, actual))


class BlobStore:
    """The blob directory of a data dir; thread-safe because blobs are immutable."""

    def __init__(self, root: Path) -> None:
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        for directory in (self.blob_dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_dir.iterdir():  # partial uploads from a crash
            with contextlib.suppress(OSError):
                leftover.unlink()

    def path(self, sha256: str) -> Path:
        """Host path of a blob."""
        return self.blob_dir / sha256[:2] / sha256

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading."""
        return open(self.path(sha256), "rb")  # noqa: SIM115

    def stage(self, chunks: Iterable[bytes]) -> StagedBlob:
        """Write ``chunks`` to a temp file while hashing, then fsync. Memory stays flat.

        Whatever goes wrong (including an exception raised by ``chunks``), the temp
        file is removed and the exception propagates.
        """
        h_sha1, h_md5, h_sha256 = hashlib.sha1(), hashlib.md5(), hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    out.write(chunk)
                    h_sha1.update(chunk)
                    h_md5.update(chunk)
                    h_sha256.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise
        return StagedBlob(
            Path(name), size, h_sha1.hexdigest(), h_md5.hexdigest(), h_sha256.hexdigest()
        )

    def stage_stream(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> StagedBlob:
        """:meth:`stage` over a file-like object read in ``chunk_size`` pieces."""

        def chunks() -> Iterator[bytes]:
            while True:
                data = stream.read(chunk_size)
                if not data:
                    return
                yield data

        return self.stage(chunks())

    def publish(self, staged: StagedBlob) -> None:
        """Move a staged upload into place (durably); a duplicate is simply dropped."""
        target = self.path(staged.sha256)
        if target.exists():
            staged.discard()
            return
        target.parent.mkdir(exist_ok=True)
        os.replace(staged.tmp_path, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def collect_garbage(self, used: Collection[str]) -> int:
        """Delete blobs whose sha256 is not in ``used``; returns how many were removed."""
        removed = 0
        for sub in self.blob_dir.iterdir():
            for blob in sub.iterdir():
                if blob.name not in used:
                    with contextlib.suppress(OSError):
                        blob.unlink()
                        removed += 1
        return removed

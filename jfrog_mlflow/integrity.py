"""Checksums of local files and of bytes as they arrive: the integrity rules of transfers.

Pure apart from reading local files; no network, no MLflow. :class:`Digest` hashes a
download while it is written, so verifying it never reads the file a second time; only
the algorithm that will be checked is computed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from jfrog_mlflow.errors import IntegrityError
from jfrog_mlflow.models import Checksums

__all__ = ["Digest", "Expected", "hash_file", "header_checksums", "verify_file"]

_logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_NO_CHECKSUMS = Checksums()


@dataclass(frozen=True, slots=True)
class Expected:
    """What a downloaded file must match; either part may be unknown."""

    checksums: Checksums = Checksums()
    size: int | None = None

    @property
    def has_checksum(self) -> bool:
        return bool(self.checksums.sha256 or self.checksums.sha1)


def hash_file(path: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Return ``(size, sha1, sha256)`` of a local file, reading it in 1 MiB chunks."""
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha1.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def header_checksums(headers: Mapping[str, str]) -> Checksums:
    """Checksums from ``X-Checksum-Sha1`` / ``X-Checksum-Sha256`` response headers."""
    sha1 = headers.get("X-Checksum-Sha1")
    sha256 = headers.get("X-Checksum-Sha256")
    return Checksums(sha1.lower() if sha1 else None, sha256.lower() if sha256 else None)


class Digest:
    """Size and running hashes of bytes as they are received (one pass, no re-read).

    Only the algorithm that will be checked is computed: SHA-256 when ``known`` has it,
    else SHA-1; when nothing is known yet, both (the expected value comes later).
    """

    __slots__ = ("_hashes", "size")

    def __init__(self, known: Checksums = _NO_CHECKSUMS) -> None:
        names = ["sha256"] if known.sha256 else ["sha1"] if known.sha1 else ["sha256", "sha1"]
        self._hashes = {name: hashlib.new(name) for name in names}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def check(self, expected: Expected, what: str) -> None:
        """Raise :class:`IntegrityError` unless size and checksum match ``expected``.

        SHA-256 is preferred over SHA-1; the size is checked when known. With neither a
        checksum nor a size there is nothing to check against (logged at DEBUG).
        """
        if expected.size is not None and self.size != expected.size:
            raise IntegrityError(
                f"Artifactory {what} failed: received {self.size} bytes, the server reported "
                f"{expected.size}"
            )
        wanted = (("sha256", expected.checksums.sha256), ("sha1", expected.checksums.sha1))
        for name, want in wanted:
            if want and name in self._hashes:
                got = self._hashes[name].hexdigest()
                if got != want:
                    raise IntegrityError(
                        f"Artifactory {what} failed: checksum mismatch (server reported {want}, "
                        f"received {got})"
                    )
                return
        _logger.debug("no checksum known for %s; only the size was checked", what)


def verify_file(path: str, expected: Expected, what: str) -> None:
    """Raise :class:`IntegrityError` unless the local file matches ``expected``."""
    digest = Digest(expected.checksums)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    digest.check(expected, what)

"""The archive formats on their own (:mod:`fake_artifactory.core.archive`, no server)."""

from __future__ import annotations

import io
import tarfile
import tracemalloc

import pytest

from fake_artifactory.core import archive


def test_reading_many_entries_keeps_memory_flat():
    """A small tar.gz of many empty entries must not cost memory per entry read."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(15_000):
            tar.addfile(tarfile.TarInfo(f"d{i % 50}/f{i}"), io.BytesIO(b""))
    data = buf.getvalue()
    tracemalloc.start()
    try:
        count = sum(1 for _ in archive.read_entries(io.BytesIO(data), "tar.gz"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 15_000
    assert peak < 4 * 1024 * 1024  # ~9 MB when TarFile kept every member


def test_archive_type_names():
    assert archive.kind_of_name("x.TGZ") == "tar.gz"
    assert archive.kind_of_name("x.tar.gz") == "tar.gz"
    assert archive.kind_of_name("x.gz") is None
    with pytest.raises(archive.ArchiveError):
        archive.archive_type("7z")

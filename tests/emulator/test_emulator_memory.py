"""Uploads and downloads stream: a 300 MiB body does not grow the server's memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from fake_artifactory.testing import start_process

MIB = 1024 * 1024
TOTAL = 300 * MIB
REPO = "example-repo-local"
AUTH = ("admin", "password")


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_large_upload_and_download_stream(tmp_path):
    block = hashlib.sha256(b"block").digest() * (MIB // 32)
    with start_process(data_dir=tmp_path / "data") as proc:
        url = f"{proc.url}/{REPO}/big/blob.bin"
        requests.put(f"{proc.url}/{REPO}/warmup", data=b"x" * MIB, auth=AUTH, timeout=60)
        requests.get(f"{proc.url}/{REPO}/warmup", auth=AUTH, timeout=60)
        before = peak_rss_kib(proc.pid)
        resp = requests.put(url, data=(block for _ in range(TOTAL // MIB)), auth=AUTH, timeout=600)
        assert resp.status_code == 201 and resp.json()["size"] == str(TOTAL)
        digest = hashlib.sha256()
        with requests.get(url, auth=AUTH, stream=True, timeout=600) as got:
            for chunk in got.iter_content(MIB):
                digest.update(chunk)
        assert digest.hexdigest() == resp.json()["checksums"]["sha256"]
        growth_mib = (peak_rss_kib(proc.pid) - before) / 1024
        assert growth_mib < 64, f"server peak RSS grew by {growth_mib:.0f} MiB"
        proc.stop()

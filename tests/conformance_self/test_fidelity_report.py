"""The fidelity probe: every medium- or low-confidence row of docs/fidelity.md has probes,
and ``--fidelity-report`` against a separately started emulator shows full agreement."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from conformance_self_support import suite_checks

from conformance.fidelity import ABSENT, PROBES, Answer, build_report, differences
from fake_artifactory.testing import start_process

ROOT = Path(__file__).resolve().parents[2]
FIDELITY_DOC = ROOT / "docs" / "fidelity.md"
CONFORMANCE_DOC = ROOT / "docs" / "conformance.md"
TOKEN = "fidelity-self-test-token-0123456789"
#: Emulator configurations that together exercise every probe: Pro 7.x with folder
#: download and anonymous access on (and a virtual repository, :func:`_virtual_seed`),
#: OSS 7.x, and Pro 6.x.
CONFIGURATIONS = {
    "pro-7": ("--folder-download", "--anonymous", "read"),
    "oss-7": ("--edition", "oss"),
    "pro-6": ("--version", "6.20.0"),
}


def fidelity_rows() -> list[tuple[str, str, str, list[str]]]:
    """``(first cell, evidence, confidence, probe keys)`` of every table row of
    docs/fidelity.md that has an Evidence column."""
    rows = []
    for line in FIDELITY_DOC.read_text("utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 5 or cells[3] == "Evidence":
            continue
        evidence = cells[3]
        found = re.search(r"\*\*([HML])\*\*", evidence)
        probes = evidence.split("probe", 1)[1] if "probe" in evidence else ""
        keys = re.findall(r"`([a-z0-9-]+)`", probes)
        rows.append((cells[0].replace("`", ""), evidence, found.group(1) if found else "", keys))
    return rows


def test_every_row_of_the_fidelity_page_names_its_evidence() -> None:
    """Kinds of evidence and a confidence, except rows with nothing to claim (not yet
    implemented, emulator-only)."""
    rows = fidelity_rows()
    assert len(rows) > 40
    for first, evidence, confidence, _ in rows:
        assert confidence or evidence in ("—", "n/a") or evidence.endswith("; n/a"), first


def test_every_medium_or_low_row_has_probes_and_every_probe_a_row() -> None:
    named: set[str] = set()
    for first, _, confidence, keys in fidelity_rows():
        if confidence in ("M", "L"):
            assert keys, f"{first!r} is {confidence} but names no probe"
        for key in keys:
            assert key in PROBES, (first, key)
        named |= set(keys)
    assert sorted(set(PROBES) - named) == [], "probes no row of docs/fidelity.md names"
    firsts = {key: [f for f, _, _, keys in fidelity_rows() if key in keys] for key in PROBES}
    for key, probe in PROBES.items():
        assert any(probe.row in first for first in firsts[key]), (key, probe.row, firsts[key])


def test_every_probe_is_one_check_of_the_suite() -> None:
    checks = suite_checks("test_fidelity*.py")
    expected = {"test_fidelity_" + key.replace("-", "_") for key in PROBES}
    assert sorted(checks ^ expected) == []


def test_the_report_tells_agreement_difference_and_absence_apart() -> None:
    claim = Answer(404, {"Server": ABSENT}, "File not found.")
    records = {
        "invalid-path": {"claim": claim.to_json(), "observed": claim.to_json()},
        "long-name": {
            "claim": claim.to_json(),
            "observed": Answer(500, {"server": "Artifactory/6.20.0"}, "boom").to_json(),
        },
        "explode-on-oss": {"not_applicable": "OSS only (edition pro)"},
    }
    report = build_report(
        records, {"kind": "remote", "version": "7.1.2", "edition": "pro"},
        {"range-suffix": "skipped: no"},
    )  # fmt: skip
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["invalid-path"]["result"] == "agrees"
    assert rows["long-name"]["result"] == "differs"
    assert rows["long-name"]["differences"] == differences(
        claim, Answer(500, {"server": "Artifactory/6.20.0"}, "boom")
    )
    assert len(rows["long-name"]["differences"]) == 3
    assert rows["explode-on-oss"]["result"] == "not applicable"
    assert rows["range-suffix"] == {
        **rows["range-suffix"],
        "result": "not probed",
        "note": "skipped: no",
    }
    assert report["summary"]["agrees"] == 1 and report["summary"]["differs"] == 1
    assert report["target"] == {"kind": "remote", "version": "7.1.2", "edition": "pro"}
    assert set(rows) == set(PROBES)


def run_report(url: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "conformance", "-q", "-p", "no:cacheprovider",
            "-k", "fidelity", "--artifactory-url", url, "--artifactory-token", TOKEN,
            "--fidelity-report", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def _virtual_seed(path: Path) -> Path:
    """A snapshot holding a virtual repository over the conformance repository that deploys
    there: the virtual repository probes ask a target that has one."""
    with start_process("--token", TOKEN) as emulator:
        body = {
            "rclass": "virtual",
            "repositories": ["example-repo-local"],
            "defaultDeploymentRepo": "example-repo-local",
        }
        url = f"{emulator.url}/api/repositories/conformance-virtual"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.put(url, json=body, headers=bearer, timeout=30).status_code == 200
        path.write_bytes(requests.get(f"{emulator.root_url}/_fake/snapshot", timeout=30).content)
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The fidelity report of each configuration, each from its own emulator process."""
    out: dict[str, dict[str, Any]] = {}
    seed = _virtual_seed(tmp_path_factory.mktemp("seed") / "virtual.tar.gz")
    for name, args in CONFIGURATIONS.items():
        path = tmp_path_factory.mktemp("fidelity") / f"{name}.json"
        if name == "pro-7":
            args = (*args, "--seed", str(seed))
        with start_process("--token", TOKEN, *args) as emulator:
            done = run_report(emulator.url, path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"fidelity {path}" in done.stdout
        text = path.read_text("utf-8")
        assert TOKEN not in text and "127.0.0.1" not in text
        out[name] = json.loads(text)
    return out


def test_a_separately_started_emulator_agrees_with_every_claim(
    reports: dict[str, dict[str, Any]],
) -> None:
    agreed: set[str] = set()
    for name, report in reports.items():
        edition, major = name.split("-")
        assert report["format"] == "jfrog-mlflow fidelity report 1"
        assert report["target"]["kind"] == "remote"
        assert report["target"]["edition"] == edition
        assert report["target"]["version"].startswith(major + ".")
        results = {r["key"]: r["result"] for r in report["rows"]}
        assert set(results) == set(PROBES), name
        assert report["summary"]["differs"] == 0, [
            (r["key"], r["differences"]) for r in report["rows"] if r["result"] == "differs"
        ]
        assert report["summary"]["not probed"] == 0, name
        agreed |= {key for key, result in results.items() if result == "agrees"}
    assert sorted(set(PROBES) - agreed) == [], "probes no configuration exercised"


def test_a_report_row_says_what_was_asked_claimed_and_seen(
    reports: dict[str, dict[str, Any]],
) -> None:
    row = next(r for r in reports["pro-7"]["rows"] if r["key"] == "checksum-file-sha1-missing")
    assert row["fidelity_row"] == "Checksum files" and row["confidence"] == "M"
    assert (
        row["claim"]
        == row["observed"]
        == {
            "status": 404,
            "headers": {},
            "message": "Checksum not found for <area>/c.bin",
        }
    )
    documented = CONFORMANCE_DOC.read_text("utf-8").split("A row from a run against the", 1)[1]
    sample = json.loads(documented.split("```json", 1)[1].split("```", 1)[0])
    assert sample == row, "the sample row of docs/conformance.md is not what a run writes"
    headers = next(r for r in reports["pro-6"]["rows"] if r["key"] == "identity-headers")
    assert headers["observed"]["headers"] == {
        "Server": "Artifactory/6.20.0",
        "X-Artifactory-Id": "<present>",
        "X-JFrog-Version": "<absent>",
    }

"""Every check names the documented behaviour it verifies; failures and the JSON show it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_self_support import suite_checks

from conformance.references import CHECKS, MLFLOW_DOC, REST_DOC, SECTIONS, describe
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

TOKEN = "references-self-test-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT.parent / "shared" / "reference"


def test_a_reference_leads_with_the_jfrog_page_and_names_no_outside_document() -> None:
    assert describe(["3.3"]) == 'JFrog REST API "File Info" (Storage API: errors)'
    assert describe(["10.2"]) == "Artifactory behaviour (401 vs 403)"
    assert describe(["mlflow:list"]) == (
        "MLflow artifact-repository contract (What list_artifacts must return)"
    )
    for keys in CHECKS.values():
        text = describe(keys)
        assert "§" not in text and REST_DOC not in text and MLFLOW_DOC not in text


def test_every_check_of_the_suite_names_known_sections() -> None:
    checks = suite_checks()
    assert len(checks) > 50
    assert sorted(checks - set(CHECKS)) == [], "checks without a reference"
    assert sorted(set(CHECKS) - checks) == [], "references of checks that do not exist"
    for name, keys in CHECKS.items():
        assert keys and describe(keys), name
    with pytest.raises(KeyError, match="'9.9'"):
        describe(["3.3", "9.9"])


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="project reference documents absent")
def test_sections_exist_in_the_reference_documents() -> None:
    headings = {
        doc: [ln for ln in (REFERENCE_DIR / doc).read_text("utf-8").splitlines() if ln[:1] == "#"]
        for doc in (REST_DOC, MLFLOW_DOC)
    }
    for key, ref in SECTIONS.items():
        if not ref.doc:
            assert ref.jfrog, key
            continue
        lines = headings[ref.doc]
        if ref.doc == REST_DOC:
            pattern = re.compile(rf"^#+ {re.escape(ref.section)}[. ]")
            assert any(pattern.match(ln) for ln in lines), key
        else:
            words = ref.title.split()[:3]
            assert any(all(w in ln for w in words) for ln in lines), key


@pytest.fixture
def faulty_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    """Answers the storage info of a missing item with 500 instead of the documented 404."""
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps(
            [
                {
                    "method": "GET",
                    "path": "api/storage/example-repo-local/*/missing",
                    "status": 500,
                    "message": "injected",
                }
            ]
        )
    )
    with ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,), faults_file=faults)) as srv:
        yield srv


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_a_failing_check_names_its_reference_in_the_failure_junit_and_json(
    faulty_server: ThreadedServer, tmp_path: Path
) -> None:
    out, junit = tmp_path / "r.json", tmp_path / "j.xml"
    p = run(
        "-m", "conformance", "-q", "-p", "no:cacheprovider", "-n", "1",
        "-k", "missing_item_info_is_404 or ping_answers",
        "--artifactory-url", faulty_server.url, "--artifactory-token", TOKEN,
        "--conformance-json", str(out), "--junitxml", str(junit),
    )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    file_info = 'JFrog REST API "File Info" (Storage API: errors)'
    assert "conformance: documented behaviour" in p.stdout
    assert f"this check verifies the documented behaviour of {file_info}" in p.stdout
    assert 'JFrog REST API "Error Responses" (Error body format)' in p.stdout
    assert file_info in junit.read_text()
    # Reports never point at documents outside the repository.
    assert "§" not in p.stdout and ".md" not in p.stdout
    rows = {r["test"].rsplit("::", 1)[1]: r for r in json.loads(out.read_text())}
    failed = rows["test_missing_item_info_is_404_unable_to_find_item"]
    assert failed["status"] == "failed"
    assert failed["reference"] == describe(("3.3", "11"))
    passed = rows["test_ping_answers_ok_without_credentials"]
    assert passed["status"] == "passed"
    assert passed["reference"] == 'JFrog REST API "System Health Ping" (GET /api/system/ping)'
    assert "documented behaviour" not in junit.read_text().split("ping_answers", 1)[1][:400]


def test_own_checks_name_sections_with_the_reference_marker(tmp_path: Path) -> None:
    (tmp_path / "test_own.py").write_text(
        "import pytest\n"
        "@pytest.mark.reference('2.2')\n"
        "def test_marked():\n"
        "    assert 416 == 206\n"
        "def test_unmarked():\n"
        "    assert False\n"
    )
    out = tmp_path / "r.json"
    p = run(
        "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider",
        str(tmp_path / "test_own.py"), "--conformance-json", str(out),
    )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    rows = {r["test"].rsplit("::", 1)[1]: r for r in json.loads(out.read_text())}
    assert rows["test_marked"]["reference"] == describe(["2.2"])
    assert 'JFrog REST API "Retrieve Artifact" (Range requests)' in p.stdout
    assert rows["test_unmarked"]["reference"] == ""
    assert p.stdout.count("conformance: documented behaviour") == 1


def test_an_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_typo.py").write_text(
        "import pytest\n@pytest.mark.reference('3.33')\ndef test_typo():\n    pass\n"
    )
    p = run(
        "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider",
        str(tmp_path / "test_typo.py"),
    )  # fmt: skip
    assert p.returncode == 4, p.stdout + p.stderr
    assert "unknown reference section '3.33'" in p.stdout + p.stderr

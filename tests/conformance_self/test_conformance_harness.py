"""The harness end to end: invocation, preflight, reports and secret redaction."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

SECRET = "harness-secret-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ThreadedServer(EmulatorConfig(port=0, tokens=(SECRET,))) as srv:
        yield srv.url


def test_python_m_conformance_runs_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    junit = tmp_path / "j.xml"
    p = run(
        "-m", "conformance", "-q", "-p", "no:cacheprovider", "-k", "ping or version",
        "--conformance-json", str(out), "--junitxml", str(junit),
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Artifactory conformance summary" in p.stdout
    assert "hypothesis: seed " in p.stdout and "edition pro" in p.stdout
    rows = json.loads(out.read_text())
    assert rows and all(
        set(r) == {"test", "status", "reason", "reference", "observed"} for r in rows
    )
    assert {r["status"] for r in rows} == {"passed"}
    assert junit.exists()


def test_observations_reach_the_json_report_and_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    p = run(
        "-m", "conformance", "-q", "-p", "no:cacheprovider",
        "-k", "explode_deploys_every_entry or version", "--conformance-json", str(out),
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {r["test"].rsplit("::", 1)[1]: r for r in json.loads(out.read_text())}
    explode = [r for name, r in rows.items() if name.startswith("test_explode_deploys")]
    assert explode and all(r["status"] == "passed" for r in explode)
    assert {"explode_status", "explode_body_bytes"} <= set(explode[0]["observed"])
    assert explode[0]["observed"]["explode_status"] == "200"
    assert all(not r["observed"] for name, r in rows.items() if "version" in name)
    observing = len(explode)
    assert f"observed: {2 * observing} server behaviours in {observing} tests" in p.stdout


def test_pytest_pyargs_registers_the_options(tmp_path: Path) -> None:
    p = run(
        "-m", "pytest", "--pyargs", "conformance", "-q", "-p", "no:cacheprovider",
        "-k", "ping", "--artifactory-repo", "example-repo-local", "--conformance-prefix", "c2",
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "c2/" in p.stdout


def test_wrong_target_stops_with_one_line_and_non_zero_exit(server: str) -> None:
    p = run(
        "-m", "conformance", "-q", "-p", "no:cacheprovider", "--artifactory-url", server,
        "--artifactory-token", "wrong-" + SECRET,
    )  # fmt: skip
    assert p.returncode == 4, p.stdout + p.stderr
    assert "preflight failed: credentials (token) rejected" in p.stdout + p.stderr
    assert SECRET not in p.stdout + p.stderr
    assert len(p.stdout.strip().splitlines()) <= 2, p.stdout


def test_secrets_never_reach_output_junit_or_json(server: str, tmp_path: Path) -> None:
    leaky = tmp_path / "test_leaky.py"
    leaky.write_text(
        "def test_leak(rest):\n"
        "    token = rest.credentials.token\n"
        "    print('captured', token)\n"
        "    assert token == 'something else', token\n"
    )
    out, junit = tmp_path / "r.json", tmp_path / "j.xml"
    p = run(
        "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider", str(leaky),
        "--artifactory-url", server, "--artifactory-token", SECRET,
        "--conformance-json", str(out), "--junitxml", str(junit), "-rA",
    )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    assert "test_leak" in p.stdout and "***" in p.stdout
    for text in (p.stdout, p.stderr, out.read_text(), junit.read_text()):
        assert SECRET not in text


def test_markers_give_strict_xfail_and_capability_skips(tmp_path: Path) -> None:
    (tmp_path / "test_marks.py").write_text(
        "import pytest\n"
        "from hypothesis import core\n"
        "@pytest.mark.known_divergence(target='emulator', reason='demo gap')\n"
        "def test_known_gap():\n"
        "    assert False\n"
        "@pytest.mark.known_divergence(target='emulator', reason='fixed gap')\n"
        "def test_fixed_gap():\n"
        "    pass\n"
        "@pytest.mark.requires('deep_list')\n"
        "def test_needs_pro(rest):\n"
        "    pass\n"
        "def test_seed_reaches_workers():\n"
        "    assert core.global_force_seed == 4242\n"
    )
    out = tmp_path / "r.json"
    p = run(
        "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider", str(tmp_path),
        "-n", "2", "--emulator-edition", "oss", "--hypothesis-seed", "4242",
        "--conformance-json", str(out),
    )  # fmt: skip
    rows = {r["test"].rsplit("::", 1)[1]: r for r in json.loads(out.read_text())}
    assert rows["test_known_gap"]["status"] == "xfailed"
    assert "demo gap" in rows["test_known_gap"]["reason"]
    assert rows["test_fixed_gap"]["status"] == "failed"  # strict: a fix is noticed
    assert rows["test_needs_pro"]["status"] == "skipped"
    assert "deep_list" in rows["test_needs_pro"]["reason"]
    assert rows["test_seed_reaches_workers"]["status"] == "passed"
    assert p.returncode == 1

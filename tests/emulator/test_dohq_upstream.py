"""dohq-artifactory's integration suite, unmodified, against a freshly started emulator.

The suite is not on PyPI (dohq-artifactory's sdist ships no ``tests/``), so it runs only
where a checkout of it is at hand: set ``DOHQ_ARTIFACTORY_SRC`` to a tree of
``devopshq/artifactory`` at the tag of the installed dohq-artifactory.  Its files are
copied to a temporary directory and pointed at the emulator through the suite's own
configuration file (``tests/test.cfg``: uri, username, password, token); nothing else
changes.  Without a checkout the test is skipped; ``test_dohq_suite.py`` runs the same
scenarios everywhere.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

SOURCE = os.environ.get("DOHQ_ARTIFACTORY_SRC", "")

#: Upstream tests that fail against a real Artifactory too (see test_dohq_suite.py).
FAILS_ON_A_REAL_SERVER = {
    "TestGroup::test_create_delete_with_user",
    "test_integration_artifactory_path::test_deploy_file_by_checksum",
}

pytestmark = pytest.mark.skipif(
    not (Path(SOURCE) / "tests" / "integration").is_dir(),
    reason="dohq-artifactory's integration suite is not published on PyPI (its sdist has "
    "no tests/): set DOHQ_ARTIFACTORY_SRC to a checkout of devopshq/artifactory at the "
    "installed version's tag to run it",
)


def _outcomes(junit: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        found[name] = outcome
    return found


def test_upstream_suite_fails_only_where_a_real_server_fails(tmp_path: Path) -> None:
    """Every upstream integration test passes except the two that fail against a real
    Artifactory too."""
    tree = tmp_path / "dohq"
    shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    upstream = configparser.ConfigParser()
    upstream.read(tree / "tests" / "test.cfg")
    token = upstream.get("artifactory", "token")
    with ThreadedServer(EmulatorConfig(port=0, tokens=(token,))) as server:
        (tree / "tests" / "test.cfg").write_text(
            "[artifactory]\n"
            f"uri = {server.url}\nusername = admin\npassword = password\ntoken = {token}\n"
        )
        junit = tmp_path / "junit.xml"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/integration",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:fake_artifactory",
                "-p",
                "no:xdist",
                "-o",
                "addopts=",
                f"--junitxml={junit}",
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    outcomes = _outcomes(junit)
    failed = {name for name, outcome in outcomes.items() if outcome != "passed"}
    assert len(outcomes) >= 20, run.stdout[-2000:]
    assert failed == FAILS_ON_A_REAL_SERVER, run.stdout[-4000:]

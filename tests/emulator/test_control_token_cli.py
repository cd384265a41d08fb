"""Where the control token comes from: settings, the CLI's READY line and token file,
``--workers``, the process helper and the pytest fixture (real processes; servers bind
127.0.0.1 or 0.0.0.0, clients connect to 127.0.0.1)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from fake_artifactory.config import (
    CONTROL_TOKEN_ENV,
    ConfigurationError,
    EmulatorConfig,
    is_loopback,
    with_control_token,
)
from fake_artifactory.core.auth import CONTROL_DENIED
from fake_artifactory.testing import FakeArtifactoryHandle, start_process
from fake_artifactory.testing.process import given_control_token, parse_ready

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The READY line when the emulator generated the token: the URL stays the second word.
READY_WITH_TOKEN = re.compile(r"READY (http://[^ ]+/artifactory) control-token=([A-Za-z0-9_-]{43})")
TIMEOUT = 30


def _local(url: str) -> str:
    """The URL a client on this machine uses for a server bound to every address."""
    return url.replace("://0.0.0.0:", "://127.0.0.1:")


def _status(root_url: str, path: str, token: str | None = None, method: str = "GET") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, root_url + path, headers=headers, timeout=TIMEOUT).status_code


# -- settings (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("build-host.example", False),
    ],
)
def test_only_loopback_hosts_count_as_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_token_is_generated_off_loopback_or_when_a_token_file_asks_for_one(
    tmp_path: Path,
) -> None:
    """Loopback stays open; another host or a token file gets a fresh random token; a
    given token is kept; settling twice changes nothing (all processes share one)."""
    assert with_control_token(EmulatorConfig()).control_token is None
    generated = with_control_token(EmulatorConfig(host="0.0.0.0"))
    assert generated.control_token is not None and len(generated.control_token) >= 43
    assert with_control_token(generated) is generated
    assert with_control_token(EmulatorConfig(host="0.0.0.0")) != generated
    asked = EmulatorConfig(control_token_file=tmp_path / "t")
    assert with_control_token(asked).control_token is not None
    given = EmulatorConfig(host="0.0.0.0", control_token="mine")
    assert with_control_token(given).control_token == "mine"
    assert "mine" not in repr(given)


def test_the_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROL_TOKEN_ENV, "from-env")
    assert EmulatorConfig.from_args([]).control_token == "from-env"
    assert EmulatorConfig.from_args(["--control-token", "flag"]).control_token == "flag"
    monkeypatch.setenv(CONTROL_TOKEN_ENV, "")
    assert EmulatorConfig.from_args([]).control_token is None
    for bad in ("", "two words"):
        with pytest.raises(ConfigurationError, match="control token"):
            EmulatorConfig(control_token=bad)


def test_ready_lines_and_arguments_name_the_token() -> None:
    assert parse_ready("READY http://h:1/artifactory\n") == ("http://h:1/artifactory", None)
    assert parse_ready("READY http://h:1/a control-token=abc\n") == ("http://h:1/a", "abc")
    assert given_control_token(["--control-token", "a"], {}) == "a"
    assert given_control_token(["--control-token=b"], {CONTROL_TOKEN_ENV: "c"}) == "b"
    assert given_control_token(["--repo", "x"], {CONTROL_TOKEN_ENV: "c"}) == "c"
    assert given_control_token([], {}) is None


# -- the CLI -------------------------------------------------------------------------------


def test_off_loopback_the_cli_generates_prints_writes_and_enforces_a_token(
    tmp_path: Path,
) -> None:
    """``--host 0.0.0.0``: one READY line carrying the generated token (and nothing else on
    stdout), the same token in the 0600 token file, never in the log; /_fake/ answers 401
    without it, health stays open."""
    token_file = tmp_path / "secrets" / "control-token"
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fake_artifactory", "serve", "--host", "0.0.0.0"]
            + ["--port", "0", "--log-level", "INFO", "--control-token-file", str(token_file)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = READY_WITH_TOKEN.fullmatch(line.strip())
            assert match, line
            url, token = match.groups()
            assert line.split()[1] == url and url.startswith("http://0.0.0.0:")
            assert token_file.read_text() == token
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            root = _local(url).rsplit("/", 1)[0]
            assert _status(root, "/_fake/state") == 401
            assert _status(root, "/_fake/reset", method="POST") == 401
            assert _status(root, "/_fake/state", token) == 200
            assert _status(root, "/_fake/health") == 200
            assert requests.get(_local(url) + "/api/system/ping", timeout=30).text == "OK"
        finally:
            proc.terminate()
            rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and rest == ""
    assert token not in log.read_text()


def test_an_explicit_token_is_enforced_and_never_printed(tmp_path: Path) -> None:
    """A token from the environment or ``--control-token`` is not echoed on the READY
    line; the process helper still knows it, the flag wins over the variable, and a
    token file receives the token in force."""
    env = dict(os.environ, **{CONTROL_TOKEN_ENV: "env-token"})
    with start_process(env=env) as proc:
        assert proc.control_token == "env-token"
        assert _status(proc.root_url, "/_fake/state") == 401
        assert _status(proc.root_url, "/_fake/state", "env-token") == 200
        assert proc.handle().state()["repos"]
    token_file = tmp_path / "token"
    with start_process(
        "--control-token", "flag-token", "--control-token-file", str(token_file), env=env
    ) as proc:
        assert proc.control_token == "flag-token" and token_file.read_text() == "flag-token"
        assert _status(proc.root_url, "/_fake/state", "env-token") == 401
        assert _status(proc.root_url, "/_fake/state", "flag-token") == 200
    failed = subprocess.run(
        [sys.executable, "-m", "fake_artifactory", "serve", "--port", "0", "--control-token="],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 2 and "control token must be non-empty" in failed.stderr


def test_loopback_without_a_token_stays_open() -> None:
    with start_process() as proc:
        assert proc.control_token is None
        assert _status(proc.root_url, "/_fake/reset", method="POST") == 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="--workers needs Linux")
def test_every_worker_process_enforces_the_one_generated_token(tmp_path: Path) -> None:
    """With ``--workers 2`` the parent settles the token once; fresh connections (spread
    over both processes by the kernel) all get 401 without it and 200 with it."""
    token_file = tmp_path / "token"
    with start_process(
        "--host", "0.0.0.0", "--workers", "2", "--control-token-file", str(token_file), timeout=60
    ) as proc:
        token = proc.control_token
        assert token is not None and token_file.read_text() == token
        root = _local(proc.root_url)
        for _ in range(12):
            assert _status(root, "/_fake/state") == 401
            assert _status(root, "/_fake/state", token) == 200
        assert _status(root, "/_fake/reset", method="POST") == 401
        handle = FakeArtifactoryHandle(url=_local(proc.url), root_url=root, control_token=token)
        handle.reset(handle.repo)  # a full reset also restores settings: one process only
        assert handle.state()["repos"]


# -- the pytest fixture --------------------------------------------------------------------


def test_the_pytest_fixture_passes_a_generated_token(tmp_path: Path) -> None:
    """A suite whose emulator has a control token uses the ``fake_artifactory`` fixture
    unchanged: the handle carries the token; a bare request gets 401."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import pytest
            from pathlib import Path
            from fake_artifactory.config import EmulatorConfig

            @pytest.fixture(scope="session")
            def fake_artifactory_config():
                return EmulatorConfig(port=0, control_token_file=Path({str(tmp_path / "t")!r}))
            """
        )
    )
    (tmp_path / "test_guarded.py").write_text(
        textwrap.dedent(
            """
            import urllib.error
            import urllib.request
            from pathlib import Path

            import pytest

            def test_fixture(fake_artifactory):
                token = Path(__file__).with_name("t").read_text()
                assert fake_artifactory.control_token == token
                with fake_artifactory.faults({"operation": "deploy", "status": 503}) as ids:
                    assert ids
                assert fake_artifactory.state()["repos"]
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(fake_artifactory.root_url + "/_fake/state")
                assert refused.value.code == 401
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


# -- docs ----------------------------------------------------------------------------------


def test_the_user_guide_quotes_the_real_ready_line_and_401() -> None:
    """docs/emulator.md shows the READY line and the 401 message as a real run gives them."""
    guide = (REPO_ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    ready = [line for line in guide.splitlines() if "control-token=" in line and "READY" in line]
    assert ready and all(READY_WITH_TOKEN.search(line) for line in ready)
    assert CONTROL_DENIED in guide

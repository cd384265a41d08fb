"""The CLI as a real subprocess: READY line, clean SIGTERM, persistence and crash safety."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys

import pytest
import requests

from fake_artifactory.config import EmulatorConfig, UserSpec, user_arg
from fake_artifactory.testing import start_process

AUTH = ("admin", "password")
REPO = "example-repo-local"


def test_ready_line_and_sigterm_exit_zero():
    proc = start_process("--repo", "extra-local", "--token", "tok")
    try:
        assert proc.url.startswith("http://127.0.0.1:") and proc.url.endswith("/artifactory")
        assert requests.get(proc.url + "/api/system/ping", timeout=10).text == "OK"
        repos = requests.get(proc.url + "/api/repositories", auth=("x", "tok"), timeout=10).json()
        assert {r["key"] for r in repos} == {REPO, "extra-local"}
    finally:
        assert proc.stop() == 0


def test_ready_is_the_only_stdout_line():
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_artifactory", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("READY http://127.0.0.1:")
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert rest == ""


def test_the_retired_threads_option_still_starts_and_says_it_is_ignored(tmp_path):
    log = tmp_path / "serve.log"
    with start_process("--threads", "8", log_file=log) as proc:
        assert requests.get(proc.url + "/api/system/ping", timeout=10).text == "OK"
        assert proc.stop() == 0
    assert "--threads is ignored: the server runs every connection on one event loop" in (
        log.read_text()
    )


def test_data_dir_persists_across_restart(tmp_path):
    data = tmp_path / "data"
    with start_process(data_dir=data) as proc:
        assert (
            requests.put(
                f"{proc.url}/{REPO}/keep/me.txt;k=v", data=b"persist", auth=AUTH, timeout=10
            ).status_code
            == 201
        )
        proc.stop()
    with start_process(data_dir=data) as proc:
        got = requests.get(f"{proc.url}/{REPO}/keep/me.txt", auth=AUTH, timeout=10)
        assert got.content == b"persist"
        props = requests.get(
            f"{proc.url}/api/storage/{REPO}/keep/me.txt?properties", auth=AUTH, timeout=10
        ).json()
        assert props["properties"] == {"k": ["v"]}
        proc.stop()


def test_acknowledged_deploy_survives_kill_9(tmp_path):
    data = tmp_path / "data"
    payload = hashlib.sha256(b"seed").digest() * 4096
    with start_process(data_dir=data) as proc:
        resp = requests.put(
            f"{proc.url}/{REPO}/crash/safe.bin", data=payload, auth=AUTH, timeout=30
        )
        assert resp.status_code == 201
        proc.kill()
    with start_process(data_dir=data) as proc:
        got = requests.get(f"{proc.url}/{REPO}/crash/safe.bin", auth=AUTH, timeout=30)
        assert got.status_code == 200 and got.content == payload
        assert got.headers["X-Checksum-Sha256"] == hashlib.sha256(payload).hexdigest()
        proc.stop()


def test_bad_arguments_exit_nonzero():
    result = subprocess.run(
        [sys.executable, "-m", "fake_artifactory", "serve", "--tls-cert", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_from_args():
    cfg = EmulatorConfig.from_args(
        [
            "--port",
            "0",
            "--repo",
            "a-local",
            "--repo",
            "b-local",
            "--user",
            "bob:pw:read,deploy",
            "--token",
            "t1",
            "--api-key",
            "k1",
            "--anonymous",
            "read",
            "--edition",
            "oss",
            "--version",
            "7.100.1",
            "--latency-ms",
            "5",
        ]
    )
    assert cfg.port == 0 and cfg.repos == (REPO, "a-local", "b-local")
    assert cfg.users == (UserSpec("bob", "pw", frozenset({"read", "deploy"})),)
    assert cfg.tokens == ("t1",) and cfg.api_keys == ("k1",)
    assert (cfg.anonymous, cfg.edition, cfg.version, cfg.latency_ms) == (
        "read",
        "oss",
        "7.100.1",
        5,
    )
    assert cfg.data_dir is None


def test_user_arg():
    assert user_arg("a:b").perms == frozenset({"read", "deploy", "delete", "annotate", "admin"})
    assert user_arg("a:b:read").perms == {"read"}
    assert user_arg("a:b:read, delete").perms == {"read", "delete"}
    with pytest.raises(argparse.ArgumentTypeError):
        user_arg("nopassword")
    with pytest.raises(argparse.ArgumentTypeError):
        user_arg("a:b:fly")

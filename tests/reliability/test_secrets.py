"""The plugin's secrets: kept out of logs, errors, reprs, the journal and the conformance
reports; TLS verified with ``REQUESTS_CA_BUNDLE`` and refused clearly without it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_server_support import AUTH_MODES
from mlflow.exceptions import MlflowException
from reliability_support import (
    ALL_SECRETS,
    API_KEY,
    PASSWORD,
    TOKEN,
    USER,
    make_tree,
    read_tree,
    record_figure,
    secrets_in,
    start_emulator,
)

pytestmark = pytest.mark.timeout(300)

#: A credential the server does not know (it must not appear anywhere either).
WRONG_SECRET = "rel-wrong-secret-91c2e7"


def _plugin_objects(root: Any) -> list[Any]:
    """``root`` and every object reachable from it whose class is ours (jfrog_mlflow)."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if type(obj).__module__.startswith("jfrog_mlflow"):
            found.append(obj)
        children: list[Any] = []
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif type(obj).__module__.startswith(("jfrog_mlflow", "mlflow.store", "requests")):
            children = list(getattr(obj, "__dict__", {}).values())
            for slot in getattr(type(obj), "__slots__", ()):
                children.append(getattr(obj, slot, None))
        stack += [(c, depth + 1) for c in children]
    return found


def _exception_texts(exc: BaseException) -> list[str]:
    texts = []
    cur: BaseException | None = exc
    while cur is not None:
        texts += [str(cur), repr(cur)]
        cur = cur.__cause__ or cur.__context__
    return texts


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_no_secret_in_logs_errors_reprs_or_journal(
    tmp_path: Path,
    configure_plugin: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    auth: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = start_emulator(
        tmp_path / "emu",
        "--api-key",
        API_KEY,
        "--user",
        f"{USER}:{PASSWORD}",
        "--log-level",
        "DEBUG",
        data_dir=tmp_path / "data",
    )
    texts: list[str] = []
    objects: list[Any] = []
    try:
        src = tmp_path / "src"
        make_tree(src, 12, seed=3)
        repo_for = configure_plugin(emu.url, auth=auth, MLFLOW_ARTIFACTORY_MAX_RETRIES="1")
        repo = repo_for(f"secrets-{auth}/run")
        repo.log_artifacts(str(src))
        repo.log_artifact(str(next(p for p in src.rglob("*") if p.is_file())), "single")
        repo.list_artifacts()
        (tmp_path / "dst").mkdir()
        (tmp_path / "x").mkdir()
        repo.download_artifacts("", dst_path=str(tmp_path / "dst"))
        objects += _plugin_objects(repo)
        failures: list[Callable[[], Any]] = [
            lambda: repo.download_artifacts("missing.bin", dst_path=str(tmp_path / "x")),
            lambda: repo.log_artifact(str(tmp_path / "does-not-exist.txt")),
        ]
        emu.add_faults({"method": "PUT", "status": 500, "message": "injected"})
        failures.append(lambda: repo.log_artifacts(str(src)))
        for fail in failures:
            with pytest.raises(Exception) as info:
                fail()
            texts += _exception_texts(info.value)
        emu.clear_faults()
        repo.delete_artifacts()
        # Wrong credentials: the rejected secret must not be echoed either.
        wrong = {
            "token": {"MLFLOW_ARTIFACTORY_TOKEN": WRONG_SECRET},
            "key": {"MLFLOW_ARTIFACTORY_KEY": WRONG_SECRET},
            "basic": {"MLFLOW_ARTIFACTORY_PASSWORD": WRONG_SECRET},
        }[auth]
        bad_repo = configure_plugin(emu.url, auth=auth, **wrong)(f"secrets-{auth}/run")
        with pytest.raises(MlflowException) as info:
            bad_repo.log_artifacts(str(src))
        texts += _exception_texts(info.value)
        objects += _plugin_objects(bad_repo)
        texts += [repr(o) for o in objects] + [str(o) for o in objects]
        journal = emu.journal_text()
    finally:
        emu.kill()
    out, err = capfd.readouterr()
    secrets = (*ALL_SECRETS, WRONG_SECRET)
    places = {
        "DEBUG logs": caplog.text,
        "stdout": out,
        "stderr": err,
        "exception messages": "\n".join(texts),
        "emulator journal": journal,
        "emulator log (DEBUG)": emu.stderr_text(),
    }
    leaks = {where: secrets_in(text, secrets) for where, text in places.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    assert len(objects) >= 2, "no plugin objects found to inspect"
    assert caplog.text, "nothing was logged at DEBUG; the search would prove nothing"
    record_figure(
        f"secrets_{auth}",
        places_searched=sorted(places),
        plugin_objects_repr_checked=len(objects),
        log_records=len(caplog.records),
        leaks=0,
    )


def test_no_secret_in_conformance_reports(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "emu", data_dir=tmp_path / "data")
    outputs: list[str] = []
    try:
        for i, token in enumerate((TOKEN, WRONG_SECRET)):
            junit, report = tmp_path / f"junit{i}.xml", tmp_path / f"conf{i}.json"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "conformance",
                    "--artifactory-url",
                    emu.url,
                    "--artifactory-token",
                    token,
                    f"--junitxml={junit}",
                    "--conformance-json",
                    str(report),
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:randomly",
                    "-x",
                    "-k",
                    "checksum_mismatch_is_409 or deploy_answers_201",
                    "-o",
                    "addopts=",
                ],
                capture_output=True,
                text=True,
                timeout=240,
                cwd=tmp_path,
            )
            outputs += [proc.stdout, proc.stderr]
            for f in (junit, report):
                if f.exists():
                    outputs.append(f.read_text())
            if token == TOKEN:
                assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
                assert report.exists()
            else:
                assert proc.returncode != 0
        outputs.append(emu.journal_text())
    finally:
        emu.kill()
    leaks = [s for text in outputs for s in secrets_in(text, (TOKEN, WRONG_SECRET))]
    assert leaks == []


# --- HTTPS -------------------------------------------------------------------------------


def test_plugin_works_over_tls_with_requests_ca_bundle_and_fails_clearly_without(
    tmp_path: Path, configure_plugin: Any
) -> None:
    ca = tmp_path / "ca.pem"
    emu = start_emulator(tmp_path / "emu", "--tls-self-signed", str(ca), data_dir=tmp_path / "d")
    try:
        assert emu.url.startswith("https://")
        src = tmp_path / "src"
        files = make_tree(src, 8, seed=21)
        repo_for = configure_plugin(emu.url, REQUESTS_CA_BUNDLE=str(ca))
        repo = repo_for("tls/run")
        repo.log_artifacts(str(src))
        (tmp_path / "dst").mkdir()
        out = repo.download_artifacts("", dst_path=str(tmp_path / "dst"))
        assert read_tree(Path(out)) == files

        untrusted = configure_plugin(emu.url, MLFLOW_ARTIFACTORY_MAX_RETRIES="0")
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
        with pytest.raises(MlflowException) as info:
            untrusted("tls/run").list_artifacts()
        message = str(info.value).lower()
        assert any(w in message for w in ("certificate", "ssl", "tls", "verify")), message
        assert emu.url.split("://", 1)[1].split("/", 1)[0] in str(info.value)
        assert secrets_in(str(info.value), ALL_SECRETS) == []
    finally:
        emu.kill()
    record_figure("tls", round_trip_files=len(files), untrusted_rejected=True)


def test_token_values_are_absent_from_plugin_config_repr(configure_plugin: Any) -> None:
    configure_plugin("http://127.0.0.1:9/artifactory", auth="basic")
    os.environ["MLFLOW_ARTIFACTORY_TOKEN"] = TOKEN
    os.environ["MLFLOW_ARTIFACTORY_KEY"] = API_KEY
    os.environ["ARTIFACTORY_AUTH_TOKEN"] = TOKEN
    try:
        from jfrog_mlflow.config import PluginConfig

        config = PluginConfig.from_env()
        assert secrets_in(repr(config) + str(config), ALL_SECRETS) == []
    finally:
        for name in (
            "MLFLOW_ARTIFACTORY_TOKEN",
            "MLFLOW_ARTIFACTORY_KEY",
            "ARTIFACTORY_AUTH_TOKEN",
        ):
            os.environ.pop(name, None)

"""pytest plugin of the conformance suite: options, target lifecycle, markers, reporting.

Process model under pytest-xdist: the controller runs no tests. Against a URL it runs the
preflight (and ``--janitor``) once so a wrong target stops the run with one line; each
worker then reaches the target itself (or starts its own emulator), creates its own run
folder ``<prefix>/<run-id>`` and removes it at the end. Workers send what they learnt
(version, edition, cleanup) back through ``workeroutput`` for the final summary.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import settings

from conformance.client import RestClient
from conformance.config import TargetConfig
from conformance.errors import ConformanceConfigError, TargetUnavailable
from conformance.folder_download import (
    MODES_EMULATOR,
    MODES_REMOTE,
)
from conformance.profiles import FAST, REAL, THOROUGH, register_profiles
from conformance.redact import Redactor
from conformance.references import CHECKS, describe
from conformance.reporting import REFERENCE_ATTR, REFERENCE_SECTION, TRANSCRIPT_SECTION, ResultBook
from conformance.targets import (
    Capabilities,
    Target,
    Workspace,
    janitor,
    make_run_id,
    preflight,
    probe,
    start_target,
)

register_profiles()

#: The suite's fixtures live in their own module; pytest loads it with this plugin.
pytest_plugins = ["conformance.fixtures"]

PREFLIGHT_EXIT_CODE = 4

CONFIG_KEY = pytest.StashKey[TargetConfig]()
BOOK_KEY = pytest.StashKey[ResultBook]()
SEED_KEY = pytest.StashKey[int]()
STATE_KEY = pytest.StashKey["SessionState"]()
INFO_KEY = pytest.StashKey[dict[str, Any]]()
#: The documented behaviour a collected check verifies (see :mod:`conformance.references`).
REFERENCE_KEY = pytest.StashKey[str]()


class SessionState:
    """What one test process knows about its target."""

    def __init__(self) -> None:
        self.target: Target | None = None
        self.workspace: Workspace | None = None
        self.capabilities = Capabilities()
        self.error: str | None = None
        self.janitor_removed: list[str] = []


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(config.pluginmanager.hasplugin("dsession"))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- options ---------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "Artifactory conformance suite")
    add = group.addoption
    add("--artifactory-url", dest="artifactory_url", default=None,
        help="Artifactory base URL (…/artifactory); env ARTIFACTORY_CONFORMANCE_URL. "
        "Without it the bundled emulator is started.")  # fmt: skip
    add("--artifactory-repo", dest="artifactory_repo", default=None,
        help="local generic repository (env ARTIFACTORY_CONFORMANCE_REPO, "
        "default example-repo-local)")  # fmt: skip
    add("--artifactory-token", dest="artifactory_token", default=None,
        help="access token (env ARTIFACTORY_CONFORMANCE_TOKEN)")  # fmt: skip
    add("--artifactory-user", dest="artifactory_user", default=None,
        help="user for Basic auth (env ARTIFACTORY_CONFORMANCE_USER)")  # fmt: skip
    add("--artifactory-password", dest="artifactory_password", default=None,
        help="password or token for Basic auth (env ARTIFACTORY_CONFORMANCE_PASSWORD)")  # fmt: skip
    add("--artifactory-api-key", dest="artifactory_api_key", default=None,
        help="API key sent as X-JFrog-Art-Api (env ARTIFACTORY_CONFORMANCE_API_KEY)")  # fmt: skip
    add("--conformance-prefix", dest="conformance_prefix", default="conformance",
        help="folder under the repository for all runs (default: conformance)")  # fmt: skip
    add("--keep-artifacts", dest="keep_artifacts", action="store_true",
        help="do not delete this run's folder at the end")  # fmt: skip
    add("--janitor", dest="janitor", action="store_true",
        help="first delete run folders older than 24 hours left by crashed runs")  # fmt: skip
    add("--conformance-json", dest="conformance_json", default=None, metavar="FILE",
        help="write [{test, status, reason}, ...] to FILE")  # fmt: skip
    add("--fidelity-report", dest="fidelity_report", default=None, metavar="FILE",
        help="write the fidelity probes' report (JSON, see docs/conformance.md)")  # fmt: skip
    add("--conformance-max-requests", dest="conformance_max_requests", default=0, type=int,
        metavar="N", help="fail requests beyond N per process (0 = unlimited)")  # fmt: skip
    add("--emulator-edition", dest="emulator_edition", default="pro", choices=("pro", "oss"),
        help="edition of the bundled emulator (default pro)")  # fmt: skip


# -- configuration -----------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "known_divergence(target, reason): known difference of that target from real "
        "Artifactory; strict xfail when running against it",
    )
    config.addinivalue_line(
        "markers",
        "requires(capability): skip unless the target has it (pro, deep_list, client_checksums)",
    )
    config.addinivalue_line(
        "markers",
        "reference(*sections): the documented behaviour the check verifies, as section keys "
        "of conformance.references.SECTIONS (shown with failures and in the JSON report)",
    )
    try:
        tconf = TargetConfig.from_options(vars(config.option))
    except ConformanceConfigError as exc:
        raise pytest.UsageError(f"conformance: {exc}") from exc
    config.stash[CONFIG_KEY] = tconf
    config.stash[STATE_KEY] = SessionState()
    creds = tconf.credentials
    book = ResultBook(Redactor(creds.secrets(), creds.user))
    config.stash[BOOK_KEY] = book
    config.pluginmanager.register(_Recorder(book), "conformance-results")

    seed = _choose_seed(config)
    config.stash[SEED_KEY] = seed
    config.option.hypothesis_seed = str(seed)
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(FAST if tconf.is_emulator else REAL)


def _choose_seed(config: pytest.Config) -> int:
    given = config.getoption("hypothesis_seed", None)
    if given is not None:
        try:
            return int(given)
        except ValueError as exc:
            raise pytest.UsageError("conformance: --hypothesis-seed must be an integer") from exc
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput and "conformance_seed" in workerinput:
        return int(workerinput["conformance_seed"])
    return random.SystemRandom().randrange(2**32)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["conformance_seed"] = node.config.stash[SEED_KEY]


# -- session lifecycle ---------------------------------------------------------------------------
def _exit(config: pytest.Config, message: str) -> None:
    redactor = config.stash[BOOK_KEY].redactor
    pytest.exit(
        f"conformance preflight failed: {redactor.redact(message)}",
        returncode=PREFLIGHT_EXIT_CODE,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    tconf = config.stash[CONFIG_KEY]
    state = config.stash[STATE_KEY]
    if _is_controller(config):
        if tconf.is_emulator and not tconf.janitor:
            return
        try:
            target = start_target(tconf)
            try:
                preflight(target)
                if tconf.janitor:
                    state.janitor_removed = janitor(target.client, tconf.prefix)
            finally:
                target.stop()
        except TargetUnavailable as exc:
            _exit(config, str(exc))
        return
    _setup_target(config)


def _setup_target(config: pytest.Config) -> SessionState:
    tconf = config.stash[CONFIG_KEY]
    state = config.stash[STATE_KEY]
    if state.target is not None:
        return state
    try:
        target = start_target(tconf)
        state.target = target
        preflight(target)
        if tconf.janitor and not _is_worker(config):
            state.janitor_removed = janitor(target.client, tconf.prefix)
        workspace = Workspace(target.client, tconf.prefix, make_run_id())
        workspace.create_root()
        state.workspace = workspace
        state.capabilities = probe(target.client, workspace.root)
    except TargetUnavailable as exc:
        _exit(config, str(exc))
    return state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests using ``folder_download`` run once per folder-download mode of the target."""
    if "folder_download" in metafunc.fixturenames:
        modes = MODES_EMULATOR if metafunc.config.stash[CONFIG_KEY].is_emulator else MODES_REMOTE
        metafunc.parametrize("folder_download", modes, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tconf = config.stash[CONFIG_KEY]
    caps = config.stash[STATE_KEY].capabilities
    kind = "emulator" if tconf.is_emulator else "remote"
    # The thorough profile runs for many minutes per test: lift an ini-file per-test timeout
    # (an explicit --timeout on the command line still wins).
    lift_timeout = (
        config.getoption("hypothesis_profile", None) == THOROUGH
        and config.pluginmanager.hasplugin("timeout")
        and config.getoption("timeout", None) is None
    )
    for item in items:
        item.stash[REFERENCE_KEY] = _reference_of(item)
        if lift_timeout:
            item.add_marker(pytest.mark.timeout(0))
        for mark in item.iter_markers("known_divergence"):
            if mark.kwargs.get("target", "emulator") == kind:
                reason = f"known {kind} divergence: {mark.kwargs.get('reason', '')}"
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
        for mark in item.iter_markers("requires"):
            for capability in mark.args:
                if not caps.has(capability):
                    item.add_marker(
                        pytest.mark.skip(
                            reason=f"target lacks capability {capability!r} "
                            f"(edition {caps.edition}, version {caps.version}, "
                            f"checksum policy {caps.checksum_policy})"
                        )
                    )


def _reference_of(item: pytest.Item) -> str:
    """The item's ``reference`` marker, else its entry in ``CHECKS`` (suite modules only)."""
    mark = item.get_closest_marker("reference")
    keys: tuple[str, ...] = ()
    if mark is not None:
        keys = tuple(str(a) for a in mark.args)
    else:
        module = getattr(getattr(item, "module", None), "__name__", "")
        if module.startswith("conformance.test_"):
            keys = CHECKS.get(getattr(item, "originalname", item.name), ())
    try:
        return describe(keys)
    except KeyError as exc:
        raise pytest.UsageError(f"conformance: {item.nodeid}: {exc.args[0]}") from exc


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    redactor = item.config.stash[BOOK_KEY].redactor
    reference = item.stash.get(REFERENCE_KEY, "")
    # A plain attribute: pytest-xdist sends it with the report to the controller's book.
    setattr(report, REFERENCE_ATTR, reference)
    if report.failed and reference and call.when == "call":
        # Part of the failure text itself (terminal, JUnit <failure>), not only a section.
        text = f"this check verifies the documented behaviour of {reference}"
        addsection = getattr(report.longrepr, "addsection", None)
        if callable(addsection):
            addsection(REFERENCE_SECTION, text)
        else:
            report.sections.append((REFERENCE_SECTION, text))
    if report.failed:
        transcript = _transcript(item.config)
        if transcript:
            report.sections.append((TRANSCRIPT_SECTION, transcript))
    # Always: besides the configured secrets, the redactor masks credential-shaped values
    # (a minted token in a body snippet of the transcript).
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        masked = redactor.redact(text)
        if masked != text:
            report.longrepr = masked
    report.sections = [(k, redactor.redact(v)) for k, v in report.sections]
    return report


def _client(config: pytest.Config) -> RestClient | None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or state.target is None:
        return None
    return state.target.client


def _transcript(config: pytest.Config) -> str:
    """What the failing test last sent and got back (the body snippets are redacted later)."""
    client = _client(config)
    if client is None or not client.history:
        return ""
    return "\n".join(client.history)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test's failure transcript starts with its own requests."""
    client = _client(item.config)
    if client is not None:
        client.history.clear()


class _Recorder:
    """Feeds every phase report into the result book (a plugin object, so it has state)."""

    def __init__(self, book: ResultBook) -> None:
        self.book = book

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.book.add(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    tconf = config.stash[CONFIG_KEY]
    state = config.stash[STATE_KEY]
    info = config.stash.get(INFO_KEY, None) or {}
    if state.target is not None:
        info.update(_finish_target(tconf, state))
    config.stash[INFO_KEY] = info
    if _is_worker(config):
        config.workeroutput["conformance"] = info  # type: ignore[attr-defined]
        return
    info["janitor_removed"] = len(state.janitor_removed)
    if tconf.json_report:
        config.stash[BOOK_KEY].write_json(tconf.json_report)
    if tconf.fidelity_report:
        target = {"kind": info.get("kind"), "version": info.get("version"),
                  "edition": info.get("edition")}  # fmt: skip
        config.stash[BOOK_KEY].write_fidelity(tconf.fidelity_report, target)


def _finish_target(tconf: TargetConfig, state: SessionState) -> dict[str, Any]:
    assert state.target is not None
    caps = state.capabilities
    info: dict[str, Any] = {
        "url": state.target.display_url,
        "kind": state.target.kind,
        "version": caps.version,
        "edition": caps.edition,
        "deep_list": caps.deep_list,
        "run_roots": [],
        "removed": 0,
        "cleanup_failures": [],
    }
    ws = state.workspace
    if ws is not None:
        info["run_roots"] = [ws.root]
        if not tconf.keep_artifacts:
            try:
                removed, failures = ws.cleanup()
            except Exception as exc:  # noqa: BLE001 - report, never mask the test results
                removed, failures = 0, [f"{ws.root}: {type(exc).__name__}"]
            info["removed"] = removed
            info["cleanup_failures"] = failures
    state.target.stop()
    state.target = None
    return info


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    worker_info: dict[str, Any] | None = getattr(node, "workeroutput", {}).get("conformance")
    if not worker_info:
        return
    config: pytest.Config = node.config
    info = config.stash.get(INFO_KEY, None)
    if info is None:
        config.stash[INFO_KEY] = dict(worker_info)
        return
    info["run_roots"] = [*info.get("run_roots", []), *worker_info.get("run_roots", [])]
    info["removed"] = info.get("removed", 0) + worker_info.get("removed", 0)
    info["cleanup_failures"] = [
        *info.get("cleanup_failures", []),
        *worker_info.get("cleanup_failures", []),
    ]
    for key in ("version", "edition", "url", "kind", "deep_list"):
        info.setdefault(key, worker_info.get(key))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if _is_worker(config):
        return
    tconf = config.stash[CONFIG_KEY]
    book = config.stash[BOOK_KEY]
    info = config.stash.get(INFO_KEY, None) or {}
    seed = config.stash[SEED_KEY]
    profile = config.getoption("hypothesis_profile", None) or (FAST if tconf.is_emulator else REAL)
    lines = [
        f"target:   {info.get('url') or tconf.url or 'bundled emulator'} "
        f"({'bundled emulator, one per process' if tconf.is_emulator else 'remote'}), "
        f"repository {tconf.repo}, auth {tconf.credentials.kind}",
        f"server:   Artifactory {info.get('version', 'unknown')}, edition "
        f"{info.get('edition', 'unknown')}, deep listing "
        f"{'yes' if info.get('deep_list') else 'no'}",
    ]
    roots = info.get("run_roots") or []
    if roots:
        where = ", ".join(roots[:3]) + (" ..." if len(roots) > 3 else "")
        if tconf.keep_artifacts:
            lines.append(f"artifacts: kept under {tconf.repo}/{where} (--keep-artifacts)")
        else:
            failures = info.get("cleanup_failures") or []
            state = f"removed ({len(failures)} failures)" if failures else "removed"
            lines.append(f"artifacts: {tconf.repo}/{where} {state}")
            lines.extend(f"  cleanup failed: {f}" for f in failures[:5])
    if tconf.janitor:
        lines.append(f"janitor:  removed {info.get('janitor_removed', 0)} stale run folders")
    lines.append("results:")
    lines.extend(book.summary_lines())
    lines.append(
        f"hypothesis: seed {seed} (replay with --hypothesis-seed={seed}), profile {profile}"
    )
    reports = []
    xml = getattr(config.option, "xmlpath", None)
    if xml:
        reports.append(f"JUnit {xml}")
    if tconf.json_report:
        reports.append(f"JSON {tconf.json_report}")
    if tconf.fidelity_report:
        reports.append(f"fidelity {tconf.fidelity_report}")
    lines.append("reports:  " + (", ".join(reports) if reports else "terminal only"))
    terminalreporter.write_sep("=", "Artifactory conformance summary")
    for line in lines:
        terminalreporter.write_line(book.redactor.redact(line))

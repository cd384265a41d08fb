"""``fake-artifactory serve|export|import``.

``serve`` runs the emulator in the foreground: it prints exactly one line
``READY <base-url>`` on stdout once listening, logs to stderr, and exits 0 on
SIGINT/SIGTERM. When it generated a control token (``--host`` not loopback, or
``--control-token-file`` without a token given), the line is ``READY <base-url>
control-token=<token>``: the base URL stays the second word, so parsers of ``READY
<base-url>`` that split on whitespace keep working.

``export --data-dir DIR OUT.tar.gz`` writes a snapshot of a data directory, ``import
--data-dir DIR IN.tar.gz`` replaces a data directory's state with a snapshot (stop the
emulator using that directory first).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.util import find_spec
from types import FrameType

from fake_artifactory.config import (
    ConfigurationError,
    EmulatorConfig,
    build_parser,
    with_control_token,
)

#: The emulator's own dependencies: the ``emulator`` extra of the distribution.
EMULATOR_MODULES = ("flask", "werkzeug", "gevent", "cryptography")
MISSING_EXTRA = "fake-artifactory needs the emulator extra: pip install 'jfrog-mlflow[emulator]'"


def missing_emulator_modules() -> list[str]:
    """The emulator's dependencies that are not installed (none when the extra is)."""
    return [name for name in EMULATOR_MODULES if find_spec(name) is None]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fake-artifactory", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = build_parser()
    sub.add_parser(
        "serve",
        parents=[serve],
        add_help=False,
        help="run the emulator",
        description=serve.description,
    )
    for name, what, arg in (
        ("export", "write a snapshot of a data directory", "OUT"),
        ("import", "replace a data directory's state with a snapshot", "SNAPSHOT"),
    ):
        cmd = sub.add_parser(name, help=what, description=what)
        cmd.add_argument("--data-dir", required=True, help="the emulator's data directory")
        cmd.add_argument("--repo", action="append", metavar="KEY", help="extra configured repo")
        cmd.add_argument("archive", metavar=arg, help="snapshot file (.tar.gz)")
    return parser


def _snapshot_command(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from fake_artifactory.config import DEFAULT_REPO
    from fake_artifactory.store import Store
    from fake_artifactory.store.snapshot import SnapshotError, export_snapshot, import_snapshot

    repos = [DEFAULT_REPO, *[r for r in ns.repo or [] if r != DEFAULT_REPO]]
    store = Store(Path(ns.data_dir), repos)
    try:
        if ns.command == "export":
            with open(ns.archive, "wb") as out:
                count = export_snapshot(store, out)
            print(f"exported {count} items to {ns.archive}")
        else:
            with open(ns.archive, "rb") as src:
                count = import_snapshot(store, src)
            print(f"imported {count} items from {ns.archive}")
    except (OSError, SnapshotError) as exc:
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


def ready_line(url: str, generated_token: str | None) -> str:
    """The one line ``serve`` prints on stdout once it listens."""
    if generated_token is None:
        return f"READY {url}"
    # The only place a secret is ever printed: nobody else could learn a generated token.
    return f"READY {url} control-token={generated_token}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m fake_artifactory``."""
    missing = missing_emulator_modules()
    if missing:
        # Before anything imports them: one line naming the extra, not an ImportError.
        print(f"{MISSING_EXTRA} (missing: {', '.join(missing)})", file=sys.stderr)
        return 2
    ns = _parser().parse_args(list(argv) if argv is not None else None)
    if ns.command in ("export", "import"):
        return _snapshot_command(ns)
    try:
        given = EmulatorConfig.from_namespace(ns)
    except ConfigurationError as exc:
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(ns.log_level).upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if ns.threads is not None:
        logging.getLogger(__name__).warning(
            "--threads is ignored: the server runs every connection on one event loop"
        )
    from fake_artifactory.server import ThreadedServer

    config = with_control_token(given)
    generated = config.control_token if given.control_token is None else None
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if config.workers > 1:
        from fake_artifactory.server.workers import serve_workers

        try:
            return serve_workers(
                config, stop, lambda url: print(ready_line(url, generated), flush=True)
            )
        except (ConfigurationError, OSError) as exc:
            print(f"fake-artifactory: error: {exc}", file=sys.stderr)
            return 2
    try:
        server = ThreadedServer(config)
    except ConfigurationError as exc:
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
    except (ConfigurationError, OSError) as exc:
        server.stop()
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    try:
        print(ready_line(server.url, generated), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

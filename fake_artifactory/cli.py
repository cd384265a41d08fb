"""``fake-artifactory serve ...``: run the emulator in the foreground.

Prints exactly one line ``READY <base-url>`` on stdout once listening, logs to
stderr, and exits 0 on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from fake_artifactory.config import ConfigurationError, EmulatorConfig, build_parser


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m fake_artifactory``."""
    ns = _parser().parse_args(list(argv) if argv is not None else None)
    try:
        config = EmulatorConfig.from_namespace(ns)
    except ConfigurationError as exc:
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(ns.log_level).upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from fake_artifactory.server import ThreadedServer

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = ThreadedServer(config)
    try:
        server.start()
    except (ConfigurationError, OSError) as exc:
        server.stop()
        print(f"fake-artifactory: error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"READY {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

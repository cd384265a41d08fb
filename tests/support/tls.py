"""One TLS emulator for the plugin tests: a trustme CA, a certificate for 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@contextlib.contextmanager
def tls_emulator(folder: Path, token: str = "tls-token") -> Iterator[tuple[Any, Path]]:
    """Serve an emulator over HTTPS; yields ``(ThreadedServer, CA bundle path)``."""
    trustme = pytest.importorskip("trustme")
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, key_file, cert_file = folder / "ca.pem", folder / "key.pem", folder / "cert.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    config = EmulatorConfig(port=0, tokens=(token,), tls_cert=cert_file, tls_key=key_file)
    with ThreadedServer(config) as server:
        yield server, ca_file

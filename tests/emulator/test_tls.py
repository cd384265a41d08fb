"""Self-signed TLS: the generated CA verifies the server, over real HTTPS connections."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from flask import Flask
from support.wsgi_server import serve_wsgi

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer
from fake_artifactory.server.tls import make_self_signed


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> tuple[Path, Path, Path]:
    workdir = tmp_path_factory.mktemp("tls")
    ca = workdir / "bundle" / "ca.pem"
    cert, key = make_self_signed(ca, workdir)
    return ca, cert, key


@pytest.fixture(scope="module")
def https_url(material) -> Iterator[str]:
    _ca, cert, key = material
    app = Flask(__name__)
    app.add_url_rule("/hello", "hello", lambda: "hi")
    with serve_wsgi(app, tls=(cert, key)) as url:
        yield url


def test_files_are_written_and_the_key_is_private(material):
    ca, cert, key = material
    assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_server_certificate_names_every_host(material):
    ca_pem, cert_pem, _key = material
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)


def test_custom_hosts(tmp_path):
    cert, _key = make_self_signed(tmp_path / "ca.pem", tmp_path, hosts=("example.test", "::1"))
    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["example.test"]
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("::1")]
    with pytest.raises(ValueError):
        make_self_signed(tmp_path / "ca2.pem", tmp_path, hosts=())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_clients_trusting_the_ca_bundle_connect(material, https_url, host):
    ca, _cert, _key = material
    port = https_url.rsplit(":", 1)[1]
    resp = requests.get(f"https://{host}:{port}/hello", verify=str(ca), timeout=10)
    assert resp.text == "hi"


def test_strict_stdlib_verification_accepts_the_chain(material, https_url):
    ca, _cert, _key = material
    context = ssl.create_default_context(cafile=str(ca))
    context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    parts = urlsplit(https_url)
    host, port = parts.hostname, parts.port
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() is not None


def test_clients_without_the_ca_are_refused(https_url):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https_url}/hello", timeout=10)


def test_threaded_server_with_self_signed_tls_serves_https(tmp_path):
    ca = tmp_path / "ca.pem"
    with ThreadedServer(EmulatorConfig(port=0, tls_self_signed_ca=ca)) as server:
        assert server.url.startswith("https://")
        resp = requests.get(f"{server.url}/api/system/ping", verify=str(ca), timeout=10)
        assert resp.status_code == 200 and resp.text == "OK"
        # faults that break connections work over TLS too
        requests.post(
            f"{server.root_url}/_fake/faults",
            json={"path": "api/system/ping", "reset": "before", "times": 1},
            verify=str(ca),
            timeout=10,
        ).raise_for_status()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/api/system/ping", verify=str(ca), timeout=10)
        assert requests.get(f"{server.url}/api/system/ping", verify=str(ca), timeout=10).ok
        url = f"{server.url}/example-repo-local/tls.bin"
        auth = ("admin", "password")
        body = b"0123456789" * 5000
        assert requests.put(url, data=body, auth=auth, verify=str(ca), timeout=10).ok
        for rule in ({"truncate_after": 100}, {"reset": "mid_body"}, {"slow_body_bps": 10**6}):
            requests.post(
                f"{server.root_url}/_fake/faults",
                json={"operation": "download", "times": 1, **rule},
                verify=str(ca),
                timeout=10,
            ).raise_for_status()
            if "slow_body_bps" in rule:
                assert requests.get(url, auth=auth, verify=str(ca), timeout=10).content == body
                continue
            with pytest.raises(
                (requests.exceptions.ChunkedEncodingError, requests.ConnectionError)
            ):
                requests.get(url, auth=auth, verify=str(ca), timeout=10).content  # noqa: B018
        assert requests.get(url, auth=auth, verify=str(ca), timeout=10).content == body


@pytest.mark.parametrize("content", [None, b"not a certificate\n"], ids=["missing", "not-pem"])
def test_serve_with_an_unusable_certificate_exits_2_with_one_line(tmp_path, content):
    cert = tmp_path / "cert.pem"
    if content is not None:
        cert.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "fake_artifactory", "serve", "--port", "0"]
        + ["--tls-cert", str(cert), "--tls-key", str(cert)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("fake-artifactory: error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr

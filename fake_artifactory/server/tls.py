"""Self-signed TLS material for ``--tls-self-signed``: a throwaway CA and a server cert.

The CA certificate is written where the user asked (so clients can point
``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE`` at it); the server certificate and its key
go to a work directory the caller owns. Everything is generated with ``cryptography``
(already a dependency of MLflow), so the runtime does not need ``trustme``.

The certificates carry the extensions strict verifiers (Python 3.13's
``VERIFY_X509_STRICT``, Go, curl) insist on: CA basic constraints and key usage on the
CA, subject/authority key identifiers, ``serverAuth`` and subject alternative names
(IP addresses as IP entries, everything else as DNS names) on the leaf.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fake_artifactory.server.private_files import write_private

__all__ = ["make_self_signed"]

log = logging.getLogger(__name__)

_CA_LIFETIME = dt.timedelta(days=3650)
_LEAF_LIFETIME = dt.timedelta(days=825)
_CLOCK_SKEW = dt.timedelta(days=1)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fake-artifactory"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def make_self_signed(
    ca_path: Path, workdir: Path, hosts: Sequence[str] = ("127.0.0.1", "localhost")
) -> tuple[Path, Path]:
    """Create a CA (PEM written to ``ca_path``) and a server certificate signed by it.

    Args:
        ca_path: where the CA certificate goes; give it to clients as their CA bundle.
        workdir: an existing directory for ``server.pem`` and ``server.key``.
        hosts: names and IP addresses the server certificate is valid for.

    Returns:
        ``(cert_path, key_path)`` of the server certificate and its private key (PEM).

    Raises:
        ValueError: ``hosts`` is empty.
    """
    if not hosts:
        raise ValueError("make_self_signed needs at least one host name or address")
    now = dt.datetime.now(dt.timezone.utc)
    not_before = now - _CLOCK_SKEW

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fake-artifactory test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(now + _LEAF_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = Path(ca_path)
    workdir = Path(workdir)
    ca_path.parent.mkdir(parents=True, exist_ok=True)
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path = workdir / "server.pem"
    key_path = workdir / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    log.info("self-signed TLS: CA at %s, server certificate for %s", ca_path, ", ".join(hosts))
    return cert_path, key_path

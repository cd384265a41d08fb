"""Passwords at rest: salted scrypt hashes (standard library), never the password itself.

An encoded hash reads ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key base64url), so
the cost can change later without breaking stored users.  :func:`verify_password`
compares in constant time and answers False for anything it cannot parse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

SCHEME = "scrypt"
#: scrypt cost (16 MiB of memory, a few tens of milliseconds): hashing happens when a
#: user is created or changes password, and a verified password is remembered in memory
#: (see :class:`fake_artifactory.core.directory.Directory`), so requests do not pay it.
N, R, P = 2**14, 8, 1
_KEY_BYTES = 32
_MAX_MEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM, dklen=_KEY_BYTES
    )


def hash_password(password: str) -> str:
    """A new salted hash of ``password``."""
    salt = os.urandom(16)
    key = _derive(password, salt, N, R, P)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` is the one ``encoded`` was made from."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
        if n > 2**20 or r > 64 or p > 16:
            return False
        derived = _derive(password, salt, n, r, p)
    except (ValueError, binascii.Error, MemoryError):
        return False
    return hmac.compare_digest(derived, key)

"""Who a credential belongs to: the :class:`Directory` that authentication asks (pure).

* A user name and password: a configured user (``--user``) is checked against the
  command line's password, a user created through the API against its stored salted
  hash.  A password once verified is remembered, in memory only, as a keyed digest
  (keyed with a random per-process key) next to the hash it matched, so the hash is
  computed once per password and a changed password is never taken for the old one.
* An *encrypted password* (``GET /api/security/encryptedPassword``) works as a password:
  an HMAC, under the same per-process key, of the user name and the user's current
  password hash (the command line's password for a configured user).  It is never
  stored, changes with the password, and stops working when the emulator restarts.
* A secret: a ``--token`` or ``--api-key`` (the first admin user's), or an access token
  minted through the Access API (admin scope: an admin; otherwise the permissions of
  the user it names, or read-only for a user the emulator does not know; a token marked
  ``NO_ADMIN_SCOPE`` is never an admin).

Permissions themselves come from :class:`fake_artifactory.core.security.SecurityState`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Callable

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.core.passwords import verify_password
from fake_artifactory.core.permissions import ACTIONS, Principal, everywhere
from fake_artifactory.core.records import TokenRecord, now_ms
from fake_artifactory.core.security import SecurityState, UserRecord
from fake_artifactory.core.tokens import ADMIN_SCOPE, NO_ADMIN_SCOPE, digest

#: Prefix of an encrypted password (it has the look of Artifactory's, not its cipher).
ENCRYPTED_PREFIX = "AP"
_VERIFIED_MAX = 4096


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Directory:
    """Resolves credentials to principals for one emulator (thread-safe)."""

    def __init__(
        self,
        config: EmulatorConfig,
        state: Callable[[], SecurityState],
        find_token: Callable[[str], TokenRecord | None],
    ) -> None:
        self.config = config
        self.state = state
        self._find_token = find_token
        self._specs = {spec.name: spec for spec in config.users}
        self._key = os.urandom(32)
        self._verified: dict[tuple[str, bytes], str] = {}
        self._lock = threading.Lock()

    def anonymous(self) -> Principal:
        return self.state().anonymous

    # -- passwords -------------------------------------------------------------------------

    def by_password(self, name: str, password: str) -> Principal | None:
        """The user ``name`` when ``password`` (or its encrypted password) is theirs."""
        state = self.state()
        spec = self._specs.get(name)
        if spec is not None:
            if _eq(spec.password, password) or self._is_encrypted(name, spec.password, password):
                return state.principal(name)
            return None
        user = state.users.get(name)
        if user is None or not user.password_hash:
            return None
        if self._is_encrypted(name, user.password_hash, password) or self._verify(user, password):
            return state.principal(name)
        return None

    def _verify(self, user: UserRecord, password: str) -> bool:
        key = (user.name, hmac.digest(self._key, password.encode("utf-8"), "sha256"))
        if self._verified.get(key) == user.password_hash:
            return True
        if not verify_password(password, user.password_hash):
            return False
        with self._lock:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[key] = user.password_hash
        return True

    def encrypted_password(self, name: str) -> str | None:
        """The encrypted password of user ``name`` (None: the user has no password)."""
        spec = self._specs.get(name)
        if spec is not None:
            return self._encrypt(name, spec.password)
        user = self.state().users.get(name)
        if user is None or not user.password_hash:
            return None
        return self._encrypt(name, user.password_hash)

    def _encrypt(self, name: str, secret: str) -> str:
        mac = hmac.digest(self._key, f"{name}\0{secret}".encode(), hashlib.sha256)
        return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _is_encrypted(self, name: str, secret: str, candidate: str) -> bool:
        return candidate.startswith(ENCRYPTED_PREFIX) and _eq(
            self._encrypt(name, secret), candidate
        )

    # -- secrets ---------------------------------------------------------------------------

    def by_secret(self, secret: str) -> Principal | None:
        """The owner of a configured token or API key, or of a minted access token."""
        for known in (*self.config.tokens, *self.config.api_keys):
            if _eq(known, secret):
                return Principal(self.config.admin_user, admin=True)
        record = self._find_token(digest(secret))
        if record is None or record.expired(now_ms()):
            return None
        scopes = record.scope.split()
        if ADMIN_SCOPE in scopes and NO_ADMIN_SCOPE not in scopes:
            return Principal(record.username, admin=True)
        state = self.state()
        found = state.principal(record.username)
        if record.username not in state.users and record.username not in self._specs:
            # A "transient" user the emulator does not know: read-only.
            found = Principal(found.name, found.admin, (*found.grants, everywhere({"read"})))
        if NO_ADMIN_SCOPE in scopes and found.admin:
            # Never admin (an imported token, or one a non-admin minted); admin implies
            # every other action, which it keeps.
            return Principal(found.name, False, (everywhere(ACTIONS),))
        return found

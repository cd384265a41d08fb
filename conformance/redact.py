"""Secret redaction for everything the suite writes (terminal, JUnit, JSON)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

__all__ = ["Redactor"]

MASK = "***"

#: Secrets the suite was not told about but may see in a server's answer (a body snippet in
#: a failure report): JSON string values of keys ending in token/password/secret/api key,
#: and the credential of an ``Authorization``-style ``Bearer``/``Basic`` value.
_SHAPES = (
    re.compile(r'("[A-Za-z_-]*(?:token|password|secret|api_?key)"\s*:\s*")[^"]*(")', re.I),
    re.compile(r"\b((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}()", re.I),
)


class Redactor:
    """Replaces every known secret (and its Basic-auth encodings) with ``***``."""

    def __init__(self, secrets: Iterable[str] = (), user: str | None = None) -> None:
        values = {s for s in secrets if s}
        if user:
            for s in list(values):
                pair = f"{user}:{s}".encode()
                values.add(base64.b64encode(pair).decode("ascii"))
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every known secret, and anything shaped like one, masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for shape in _SHAPES:
            text = shape.sub(rf"\g<1>{MASK}\g<2>", text)
        return text

"""Secret redaction for everything the suite writes (terminal, JUnit, JSON)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

__all__ = ["Redactor"]

MASK = "***"


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
        """``text`` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

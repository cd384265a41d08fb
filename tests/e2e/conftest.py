"""Fixtures of the end-to-end tests (the machinery lives in ``e2e_support``)."""

from .e2e_support import emulator, tracking

__all__ = ["emulator", "tracking"]

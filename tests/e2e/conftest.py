"""Fixtures of the end-to-end tests (the machinery lives in ``_support``)."""

from ._support import emulator, tracking

__all__ = ["emulator", "tracking"]

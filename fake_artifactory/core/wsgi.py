"""The WSGI types the emulator's middlewares share (typing only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

"""Parsing of plain HTTP/1.1 request heads for the server's fast lane (pure, no I/O).

cheroot parses every request in a few hundred lines of general-purpose Python
(request object, ``urlsplit``, a header reader, a WSGI gateway object, header
post-processing). Around a WSGI application that does nothing, a small PUT cost the
server about 170 µs of CPU through cheroot and 100 µs through this lane (one client;
220 and 130 µs with 8 busy clients on 2 cores); GETs of a W6-like load (8 ``http.client``
processes, 1 KiB bodies) went from about 1,900 to 2,600-3,300 per second.
:class:`fake_artifactory.server.FastReadConnection` first offers each request head to
:func:`parse_head`. It accepts only heads that cheroot would read the same way:

* request line ``METHOD SP origin-form SP HTTP/1.1``, one of :data:`FAST_METHODS`, a
  target of visible ASCII starting with a single ``/``, without ``#``;
* header lines ``token ":" value``, names without ``_`` (cheroot's environ would merge
  ``X_A`` with ``X-A``), each name once case-insensitively, no line folding;
* no ``Transfer-Encoding`` or ``Expect``, a ``Connection`` of at most ``keep-alive``
  and a plain decimal ``Content-Length`` (a GET, HEAD or DELETE without a body).

Anything else returns None, nothing is consumed, and cheroot reads the request as
before, with all its error answers.  The WSGI environ built here has the keys and
values of cheroot's ``Gateway_10`` (PATH_INFO percent-decoded except ``%2F``).
:func:`response_head` applies cheroot's response-header rules (``Date``, ``Server``,
``Content-Length`` or chunked, ``Connection: close``).
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

#: Methods served on the fast lane (OPTIONS and CONNECT have special target forms).
FAST_METHODS = frozenset({b"GET", b"HEAD", b"PUT", b"POST", b"DELETE", b"PATCH"})
_BODYLESS = frozenset({b"GET", b"HEAD", b"DELETE"})
_TARGET_OK = re.compile(rb"/(?!/)[\x21-\x22\x24-\x7e]*\Z")
#: A header line whose name cheroot keeps as sent (no ``_``: cheroot would not see a
#: ``Content_Length`` as the length, but its WSGI environ would).
_HEADER = re.compile(rb"([!#$%&'*+\-.^`|~0-9A-Za-z]+):(.*)\Z")
_REFUSED_KEYS = frozenset({"HTTP_TRANSFER_ENCODING", "HTTP_EXPECT"})
_QUOTED_SLASH = re.compile(rb"%2F", re.IGNORECASE)
_HEAD_END = b"\r\n\r\n"


@dataclass(slots=True)
class RequestHead:
    """A request head accepted for the fast lane."""

    size: int  # bytes of the head including the blank line
    method: str
    environ: dict[str, Any]  # request-specific WSGI keys (no server or wsgi.* keys)
    content_length: int


def find_head(buf: bytes | bytearray, limit: int) -> int:
    """The length of a complete request head at the start of ``buf``; -1 when incomplete
    or longer than ``limit`` bytes (0 = no limit)."""
    end = buf.find(_HEAD_END, 0, limit + 4 if limit else len(buf))
    return -1 if end < 0 else end + 4


def parse_head(head: bytes) -> RequestHead | None:
    """The fast-lane view of one complete head (ending in a blank line), or None."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or parts[0] not in FAST_METHODS:
        return None
    method, target = parts[0], parts[1]
    if _TARGET_OK.match(target) is None:
        return None
    path, _, query = target.partition(b"?")
    if b"%" in path:
        path = b"%2F".join(unquote_to_bytes(atom) for atom in _QUOTED_SLASH.split(path))
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.decode("ascii"),
        "REQUEST_URI": target.decode("ascii"),
        "PATH_INFO": path.decode("latin-1"),
        "QUERY_STRING": query.decode("ascii"),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    length = 0
    for line in lines[1:]:
        match = _HEADER.match(line)
        if match is None:
            return None
        key = "HTTP_" + match.group(1).decode("ascii").upper().replace("-", "_")
        if key in environ or key in _REFUSED_KEYS:
            return None
        value = match.group(2).strip().decode("latin-1")  # bytes.strip, as cheroot
        if key == "HTTP_CONTENT_LENGTH":
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                return None
            length = int(value)
        elif key == "HTTP_CONNECTION" and value.lower() != "keep-alive":
            return None
        environ[key] = value
    if length and method in _BODYLESS:
        return None
    content_type = environ.pop("HTTP_CONTENT_TYPE", None)
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    declared = environ.pop("HTTP_CONTENT_LENGTH", None)
    if declared is not None:
        environ["CONTENT_LENGTH"] = declared
    return RequestHead(len(head), environ["REQUEST_METHOD"], environ, length)


class _DateCache:
    """``email.utils.formatdate(usegmt=True)``, computed once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._value = email.utils.formatdate(now, usegmt=True).encode("ascii")
            self._second = now
        return self._value


http_date = _DateCache()

_NO_BODY_STATUSES = frozenset({204, 205, 304})


def body_follows(code: int, *, head_request: bool) -> bool:
    """Whether a response with status ``code`` carries a body (never for 1xx, 204, 205,
    304 or an answer to HEAD)."""
    return not (head_request or code < 200 or code in _NO_BODY_STATUSES)


def response_head(
    status: bytes,
    headers: list[tuple[str, str]],
    *,
    head_request: bool,
    server_name: bytes,
    keep_alive: bool,
) -> tuple[bytes, bool, bool]:
    """The status line and headers of a response, with cheroot's additions.

    Returns ``(bytes, chunked, keep_alive)``: ``chunked`` when the body must be sent
    in chunked coding (no ``Content-Length``), ``keep_alive`` False when the
    connection must close after the response (413, a HEAD without a length, or the
    caller's own ``keep_alive=False``).
    """
    code = int(status[:3])
    lower = {name.lower() for name, _ in headers}
    chunked = False
    if code == 413:
        keep_alive = False
    elif "content-length" not in lower and body_follows(code, head_request=False):
        if head_request:
            keep_alive = False
        else:
            chunked = True
    out = [b"HTTP/1.1 ", status, b"\r\n"]
    for name, value in headers:
        out += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
    if chunked:
        out.append(b"Transfer-Encoding: chunked\r\n")
    if "connection" not in lower and not keep_alive:
        out.append(b"Connection: close\r\n")
    if "date" not in lower:
        out += (b"Date: ", http_date(), b"\r\n")
    if "server" not in lower:
        out += (b"Server: ", server_name, b"\r\n")
    out.append(b"\r\n")
    return b"".join(out), chunked, keep_alive

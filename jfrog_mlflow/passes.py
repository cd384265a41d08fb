"""Whole-transfer passes over the files that still fail after the per-request retries.

Per-request retries (urllib3's, and :meth:`~jfrog_mlflow.client.ArtifactoryClient.with_retries`
for bodies) absorb a few faults in a row. On a bad network a tree of thousands of files
still meets, somewhere, a file that gets more faults in a row than that, typically at the
tail of the transfer when it is the only one left. Like rclone (low-level retries, then
whole passes), :func:`further_passes` sends the files that failed again, in passes:

* Only errors that may pass are tried again (:func:`worth_another_pass`): no response,
  a broken body, a checksum mismatch, 429 and 5xx. A refused credential, a missing file
  or a bad name fails the same way every time.
* Another pass runs while the previous one completed at least one file. After the first
  pass one more runs even without progress (one file that met six faults in a row
  deserves another try), unless the server looked unreachable: a dead server is reported,
  not waited for again.
* At most ``MLFLOW_ARTIFACTORY_TRANSFER_PASSES`` passes in all (the first included).

Within a pass, a :class:`Breaker` makes the files that have not started yet fail at once
(:class:`~jfrog_mlflow.errors.NotAttempted`) once one file found the server unreachable
(refused, no DNS answer, a timeout) after its own retries: a dead or stalled server costs
about one request's retries, not one per file. No I/O and no MLflow here: the callers
(:mod:`jfrog_mlflow.tree_upload`, :mod:`jfrog_mlflow.tree_download`) move the bytes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from jfrog_mlflow.errors import (
    HTTPStatusError,
    IntegrityError,
    NotAttempted,
    TransportError,
)

__all__ = ["Breaker", "further_passes", "worth_another_pass"]

_logger = logging.getLogger(__name__)

_T = TypeVar("_T", bound=Hashable)

#: Statuses that may pass: overload, a proxy's hiccup, a checksum conflict (the bytes
#: were damaged on the way).
_PASSING_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


def worth_another_pass(exc: BaseException) -> bool:
    """Whether a file that failed with ``exc`` may succeed on another pass."""
    if isinstance(exc, TransportError | IntegrityError):
        return True
    return isinstance(exc, HTTPStatusError) and exc.status_code in _PASSING_STATUSES


class Breaker:
    """Stops a pass early once the server looks unreachable (thread-safe)."""

    def __init__(self) -> None:
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def tripped(self) -> bool:
        """Whether a file of this pass found the server unreachable."""
        return self._error is not None

    def observe(self, exc: BaseException) -> None:
        """Record the failure of one file: an unreachable server trips the breaker."""
        if (
            isinstance(exc, TransportError)
            and exc.unreachable
            and not isinstance(exc, NotAttempted)
        ):
            with self._lock:
                if self._error is None:
                    self._error = exc

    def check(self, what: str) -> None:
        """Raise :class:`NotAttempted` for ``what`` when the breaker has tripped."""
        error = self._error
        if error is not None:
            cause = str(error).split(" failed: ", 1)[-1]
            raise NotAttempted(f"{what}: not attempted, the server stopped answering ({cause})")


def further_passes(
    failures: Sequence[tuple[_T, BaseException]],
    attempted: int,
    breaker: Breaker,
    again: Callable[[list[_T], Breaker], list[tuple[_T, BaseException]]],
    *,
    max_passes: int,
    what: str = "transfer",
) -> tuple[list[tuple[_T, BaseException]], int]:
    """Run passes after the first one; returns the files still failing and the passes made.

    ``failures`` and ``attempted`` describe the first pass (made by the caller, with
    ``breaker``); ``again(items, breaker)`` runs one more pass over ``items`` and returns
    its failures. A file's last error is the one reported.
    """
    last: dict[_T, BaseException] = dict(failures)
    passes = 1
    progress = attempted - len(last)
    tripped = breaker.tripped
    while passes < max_passes:
        retry = [item for item, exc in last.items() if worth_another_pass(exc)]
        if not retry or (progress == 0 and (passes > 1 or tripped)):
            break
        _logger.warning(
            "%s: %d file(s) failed after their retries; pass %d of at most %d",
            what,
            len(retry),
            passes + 1,
            max_passes,
        )
        breaker = Breaker()
        failed = dict(again(retry, breaker))
        passes += 1
        progress = len(retry) - len(failed)
        tripped = breaker.tripped
        for item in retry:
            if item in failed:
                last[item] = failed[item]
            else:
                del last[item]
    return list(last.items()), passes

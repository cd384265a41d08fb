"""Exceptions of the conformance harness (test failures stay plain asserts)."""


class ConformanceError(Exception):
    """Base class of every error raised by the harness itself."""


class ConformanceConfigError(ConformanceError, ValueError):
    """Bad or contradictory options; reported before any request is made."""


class TargetUnavailable(ConformanceError):
    """The target failed the preflight (ping, credentials, repository, deploy right)."""

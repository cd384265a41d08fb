"""Conformance suite: property-based checks of Artifactory wire behaviour.

Run it with ``python -m conformance [pytest args]`` or ``pytest --pyargs conformance``.
With no ``--artifactory-url`` it starts the bundled emulator in-process; with a URL it
checks that server (and the ``jfrog_mlflow`` plugin against it), writing only under
``<repo>/<prefix>/<run-id>/`` and removing everything it created at the end.
"""

__all__: list[str] = []

"""MLflow artifact repository for JFrog Artifactory (``artifactory://`` URIs).

Importing this package is cheap and has no side effects: it does not import MLflow. The
repository class is loaded lazily on first attribute access (MLflow loads it through the
``mlflow.artifact_repository`` entry point).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jfrog_mlflow._version import __version__

__all__ = ["ArtifactoryArtifactRepository", "__version__"]

if TYPE_CHECKING:
    from jfrog_mlflow.repository import ArtifactoryArtifactRepository


def __getattr__(name: str) -> Any:
    if name == "ArtifactoryArtifactRepository":
        from jfrog_mlflow.repository import ArtifactoryArtifactRepository

        return ArtifactoryArtifactRepository
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

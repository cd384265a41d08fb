"""The ``artifactory`` scheme registers whatever the import order.

Importing ``jfrog_mlflow.repository`` before MLflow's registry makes MLflow load our entry
point while the module is half-initialised; the module must then register itself, silently.
"""

import subprocess
import sys

import pytest

SCRIPTS = {
    "plugin first": "import jfrog_mlflow.repository\n"
    "from mlflow.store.artifact import artifact_repository_registry as reg\n",
    "mlflow first": "from mlflow.store.artifact import artifact_repository_registry as reg\n"
    "import jfrog_mlflow.repository\n",
}
CHECK = (
    "cls = reg._artifact_repository_registry._registry['artifactory']\n"
    "assert cls is jfrog_mlflow.repository.ArtifactoryArtifactRepository, cls\n"
)


@pytest.mark.parametrize("order", sorted(SCRIPTS))
def test_scheme_registers_without_warning_in_any_import_order(order: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", SCRIPTS[order] + CHECK],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Failure attempting to register" not in proc.stderr

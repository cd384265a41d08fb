"""A tiny pyfunc model shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel


class AddN(PythonModel):  # type: ignore[misc]
    """Adds ``n`` to every column: enough to prove the model round-tripped."""

    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return model_input.apply(lambda col: col + self.n)


FRAME = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
EXPECTED = [6.0, 7.0, 8.0]  # AddN(5) on FRAME

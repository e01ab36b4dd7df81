"""Each export loaded and run in this process, the way its framework runs it.

`kit parity` uses these to prove, before any server is involved, that all five exports compute
what the Keras source model computes on the same inputs; benchmarks/models.py times them.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], Any]


def load(framework: str, export: Path, name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The export loaded once; the returned function predicts (float64, instances first)."""
    predict = LOADERS[framework](export, name)
    return lambda x: np.asarray(predict(x), dtype=np.float64)


def run(framework: str, export: Path, name: str, x: np.ndarray) -> np.ndarray:
    return load(framework, export, name)(x)


def _tfserving(export: Path, name: str) -> Predict:
    import tensorflow as tf

    signature = tf.saved_model.load(str(export / name / "1")).signatures["serving_default"]
    (_, kwargs) = signature.structured_input_signature
    (arg,) = kwargs  # the one named input of serving_default
    return lambda x: next(iter(signature(**{arg: tf.constant(x)}).values())).numpy()


def _module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _torchserve(export: Path, name: str) -> Predict:
    handler = _module(export / "handler.py", f"kit_ts_handler_{name}")
    model, dtype = handler.load_model(str(export))
    return lambda x: handler.predict(model, dtype, x.tolist())


def _mlflow(export: Path, name: str) -> Predict:
    import mlflow

    return mlflow.pyfunc.load_model(str(export)).predict


def _mlserver(export: Path, name: str) -> Predict:
    # mlserver-mlflow loads the folder named by model-settings.json's uri with mlflow.pyfunc.
    return _mlflow(export / "model", name)


def _bentoml(export: Path, name: str) -> Predict:
    service = _module(export / "service.py", f"kit_bento_service_{name}").Model.inner()
    return lambda x: service.predict(x.tolist())["predictions"]


LOADERS: dict[str, Callable[[Path, str], Predict]] = {
    "tfserving": _tfserving,
    "torchserve": _torchserve,
    "mlflow": _mlflow,
    "mlserver": _mlserver,
    "bentoml": _bentoml,
}

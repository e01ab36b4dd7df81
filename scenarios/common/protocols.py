"""Each framework's request and response format, for the same instances.

Pure JSON and numpy, so that bench payloads are built without importing TensorFlow or torch.
The paths are the frameworks' own conventions; the model name is the scenario id everywhere.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

CONTENT_TYPE = "application/json"


def _plain(x: np.ndarray) -> list[Any]:
    """Instances as JSON numbers: integers when they are integers (half the bytes), else floats."""
    if np.issubdtype(x.dtype, np.integer) or bool(np.all(np.mod(x, 1) == 0)):
        return np.asarray(x, dtype=np.int64).tolist()
    return np.asarray(x, dtype=np.float32).astype(np.float64).tolist()


def v2_datatype(dtype: str) -> str:
    return {"float32": "FP32", "int32": "INT32", "int64": "INT64"}[dtype]


def request(framework: str, name: str, x: np.ndarray, dtype: str) -> tuple[str, bytes]:
    """(URL path, body) of one request carrying the instances `x` (first axis = instances)."""
    if framework == "tfserving":
        path, body = f"/v1/models/{name}:predict", {"instances": _plain(x)}
    elif framework == "torchserve":
        path, body = f"/predictions/{name}", {"instances": _plain(x)}
    elif framework == "mlserver":
        path = f"/v2/models/{name}/infer"
        body = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(x.shape),
                    "datatype": v2_datatype(dtype),
                    "data": np.ravel(_plain(x)).tolist(),
                }
            ]
        }
    elif framework == "mlflow":
        path, body = "/invocations", {"inputs": _plain(x)}
    elif framework == "bentoml":
        path, body = "/predict", {"instances": _plain(x)}
    else:
        raise ValueError(f"unknown framework {framework}")
    return path, json.dumps(body, separators=(",", ":")).encode()


def outputs(framework: str, response: str | bytes) -> np.ndarray:
    """The predictions in a framework's response, as float64 (instances first)."""
    doc = json.loads(response)
    if framework == "mlserver":
        out = doc["outputs"][0]
        return np.asarray(out["data"], dtype=np.float64).reshape(out["shape"])
    if isinstance(doc, dict):
        return np.asarray(doc["predictions"], dtype=np.float64)
    return np.asarray(doc, dtype=np.float64)

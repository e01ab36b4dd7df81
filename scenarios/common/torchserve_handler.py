"""TorchServe handler for a serving-kit model: a TorchScript twin of the Keras source model.

Copied into the .mar as handler.py. It imports only torch, numpy and the standard library (the
TorchServe host has no TensorFlow and no kit), and it is also what `kit parity` runs in process,
through load_model() and predict(), so that the in-process check exercises the served code.
Request body: {"instances": [...]}; response: {"predictions": [...]}, one per request in a batch.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch

_state: dict[str, Any] = {}


def load_model(model_dir: str) -> tuple[torch.jit.ScriptModule, str]:
    with open(os.path.join(model_dir, "kit-model.json")) as fh:
        meta = json.load(fh)
    model = torch.jit.load(os.path.join(model_dir, "model.pt"), map_location="cpu")
    model.eval()
    return model, meta["input_dtype"]


def predict(model: torch.jit.ScriptModule, dtype: str, instances: Any) -> np.ndarray:
    x = torch.from_numpy(np.asarray(instances, dtype=dtype))
    with torch.inference_mode():
        return model(x).numpy()


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    if "model" not in _state:
        _state["model"], _state["dtype"] = load_model(context.system_properties["model_dir"])
    answers = []
    for row in data:
        body = row.get("body") if row.get("body") is not None else row.get("data")
        if isinstance(body, (bytes, bytearray)):
            body = json.loads(body)
        out = predict(_state["model"], _state["dtype"], body["instances"])
        answers.append({"predictions": out.tolist()})
    return answers

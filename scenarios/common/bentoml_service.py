"""BentoML service for a serving-kit model: the Keras source model, run by Keras (TensorFlow).

Copied into the BentoML export as service.py beside model.keras and kit-model.json; served with
`bentoml serve service:Model`. Workers come from KIT_BENTOML_WORKERS (set by the role, recorded in
the manifest). Request body: {"instances": [...]}; response: {"predictions": [...]}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

HERE = Path(__file__).resolve().parent
META = json.loads((HERE / "kit-model.json").read_text())


@bentoml.service(name=META["name"], workers=int(os.environ.get("KIT_BENTOML_WORKERS", "1")))
class Model:
    def __init__(self) -> None:
        import keras

        self.model = keras.saving.load_model(HERE / "model.keras", compile=False)
        self.dtype = META["input_dtype"]

    @bentoml.api
    def predict(self, instances: list[Any]) -> dict[str, Any]:
        x = np.asarray(instances, dtype=self.dtype)
        return {"predictions": np.asarray(self.model(x, training=False)).tolist()}

"""One Keras source model -> every framework's native format, with identical weights.

tfserving  : SavedModel with a numbered version folder and a `serving_default` signature.
torchserve : a .mar holding a TorchScript twin (torch ops only) and a handler (no TensorFlow).
mlflow     : an MLflow model (tensorflow flavor, Keras model type), served by `mlflow models serve`.
mlserver   : the same MLflow model behind MLServer's MLflow runtime (mlserver-mlflow). MLServer has
             no TensorFlow runtime of its own; serving the MLflow model is its documented route for
             Keras models, and it keeps MLServer and MLflow on the very same artifact.
bentoml    : a BentoML service (service.py) that loads the .keras file with Keras.
Every export folder also holds kit-verify.json: one small request the role sends after a restart.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kit import proc
from scenarios.common import protocols

HERE = Path(__file__).resolve().parent
VERIFY_FILE = "kit-verify.json"
META_FILE = "kit-model.json"


def export_tfserving(model: Any, out: Path, name: str, example: np.ndarray) -> None:
    model.export(str(out / name / "1"), format="tf_saved_model", verbose=False)


def export_torchserve(model: Any, out: Path, name: str, example: np.ndarray) -> None:
    from scenarios.common import twin

    out.mkdir(parents=True, exist_ok=True)
    traced = twin.trace(twin.twin_of(model), example)
    traced.save(str(out / "model.pt"))
    shutil.copy(HERE / "torchserve_handler.py", out / "handler.py")
    _meta(out, name, example)
    proc.run(
        [
            str(Path(sys.executable).with_name("torch-model-archiver")),
            "--model-name",
            name,
            "--version",
            "1",
            "--serialized-file",
            str(out / "model.pt"),
            "--handler",
            str(out / "handler.py"),
            "--extra-files",
            str(out / META_FILE),
            "--export-path",
            str(out),
            "--force",
        ],
        timeout=600,
        what=f"packaging the {name} .mar (torch-model-archiver)",
    )


def export_mlflow(model: Any, out: Path, name: str, example: np.ndarray) -> None:
    import mlflow
    from mlflow.models import infer_signature

    prediction = np.asarray(model(example, training=False))
    mlflow.tensorflow.save_model(model, str(out), signature=infer_signature(example, prediction))


def export_mlserver(model: Any, out: Path, name: str, example: np.ndarray) -> None:
    export_mlflow(model, out / "model", name, example)
    settings = {
        "name": name,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": "./model", "version": "1"},
    }
    (out / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")


def export_bentoml(model: Any, out: Path, name: str, example: np.ndarray) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out / "model.keras"))
    shutil.copy(HERE / "bentoml_service.py", out / "service.py")
    _meta(out, name, example)


def _meta(out: Path, name: str, example: np.ndarray) -> None:
    meta = {"name": name, "input_dtype": str(example.dtype), "input_shape": list(example.shape[1:])}
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


Exporter = Callable[[Any, Path, str, np.ndarray], None]

#: Framework id -> exporter writing into <build>/<framework>/.
EXPORTERS: dict[str, Exporter] = {
    "tfserving": export_tfserving,
    "torchserve": export_torchserve,
    "mlserver": export_mlserver,
    "mlflow": export_mlflow,
    "bentoml": export_bentoml,
}


def export_all(
    model: Any,
    root: Path,
    name: str,
    example: np.ndarray,
    verify: np.ndarray,
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    for framework, exporter in EXPORTERS.items():
        progress(f"exporting {name} for {framework}")
        folder = root / framework
        exporter(model, folder, name, example)
        _, body = protocols.request(framework, name, verify, str(example.dtype))
        (folder / VERIFY_FILE).write_bytes(body)

"""The shape every scenario shares: a seeded Keras source model, exported to all five frameworks.

A scenario supplies its data (seeded), its Keras model and its brief training, and its request
instances; this base builds, exports, makes each framework's requests and reads each framework's
answers. TensorFlow, torch and MLflow are imported only when a build or a parity check needs them,
so that building bench payloads stays cheap.
"""

from __future__ import annotations

import os
import sys
import time
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kit.ids import FRAMEWORKS
from kit.scenarios import BuiltModel, Scenario, file_hashes
from scenarios.common import protocols

SOURCE_DIR = "source"
SOURCE_FILE = "model.keras"
#: Request instances come from a seed offset from the run's, so they are never training rows.
PAYLOAD_SEED_OFFSET = 10_000


def quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up chatter, and no Keras progress bars on stdout.

    TensorFlow 2.21 logs through absl before its log level is read (TF_CPP_MIN_LOG_LEVEL does not
    silence those lines), so the first import runs with the process's stderr pointed at /dev/null;
    an import error still raises as usual. Progress bars on stdout would corrupt --json output.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import keras

    keras.utils.disable_interactive_logging()


class KerasScenario(Scenario):
    frameworks: ClassVar[tuple[str, ...]] = FRAMEWORKS
    input_dtype: ClassVar[str] = "float32"

    @abstractmethod
    def train(self, seed: int, progress: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
        """Generate the seeded data, build the Keras model, train it briefly; (model, metrics)."""

    @abstractmethod
    def make_instances(self, count: int, seed: int) -> np.ndarray:
        """`count` request instances (first axis), dtype `input_dtype`, deterministic for a seed."""

    def instances(self, size: str, seed: int) -> np.ndarray:
        self.check_request(self.frameworks[0], size)
        return self.make_instances(self.payload_sizes[size], seed + PAYLOAD_SEED_OFFSET)

    def build(self, out_dir: Path, seed: int, progress: Callable[[str], None] = lambda _: None) -> BuiltModel:
        from scenarios.common.exporters import export_all

        quiet_tensorflow()
        import keras

        keras.utils.set_random_seed(seed)
        start = time.monotonic()
        progress(f"{self.id}: generating data and training")
        model, metrics = self.train(seed, progress)
        (out_dir / SOURCE_DIR).mkdir(parents=True, exist_ok=True)
        model.save(str(out_dir / SOURCE_DIR / SOURCE_FILE))
        small = self.instances("small", seed)
        export_all(model, out_dir, self.id, small, small, progress)
        metrics = {
            **metrics,
            "parameters": int(model.count_params()),
            "seconds": round(time.monotonic() - start, 1),
        }
        return BuiltModel(hashes=file_hashes(out_dir), metrics=metrics)

    def payload(self, framework: str, size: str, seed: int) -> tuple[str, bytes, str]:
        self.check_request(framework, size)
        path, body = protocols.request(framework, self.id, self.instances(size, seed), self.input_dtype)
        return path, body, protocols.CONTENT_TYPE

    def reference_outputs(self, out_dir: Path, seed: int, size: str | None = None) -> np.ndarray:
        quiet_tensorflow()
        import keras

        model = keras.saving.load_model(str(out_dir / SOURCE_DIR / SOURCE_FILE), compile=False)
        x = self.instances(size or self.parity_size, seed)
        return np.asarray(model(x, training=False), dtype=np.float64)

    def parse_outputs(self, framework: str, response: str) -> np.ndarray:
        self.check_request(framework, self.parity_size)
        return protocols.outputs(framework, response)

    def inprocess_outputs(self, out_dir: Path, framework: str, seed: int) -> np.ndarray:
        from scenarios.common import inprocess

        quiet_tensorflow()
        self.check_request(framework, self.parity_size)
        return inprocess.run(framework, out_dir / framework, self.id, self.instances(self.parity_size, seed))

"""Image classification: MobileNetV2 over ImageNet-shaped input (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from scenarios.common.base import KerasScenario
from scenarios.image import data, model


class Image(KerasScenario):
    id = "image"
    description = "MobileNetV2 image classifier over 224x224x3 ImageNet-shaped input"
    # One image is ~150,000 pixel values (~0.5 MB of JSON): sizes stay small so that a large
    # request is still a request a client would send.
    payload_sizes: ClassVar[dict[str, int]] = {"small": 1, "medium": 4, "large": 16}
    parity_size = "medium"
    # Softmax over 1,000 classes: probabilities near 1e-3, float32 differences near 1e-9.
    tolerance = 1e-6

    def train(self, seed: int, progress: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
        return model.train(seed)

    def make_instances(self, count: int, seed: int) -> np.ndarray:
        return data.images(count, seed)


SCENARIO = Image()

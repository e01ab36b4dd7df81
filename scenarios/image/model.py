"""MobileNetV2 (Keras applications) over 224x224x3 images, with seeded random weights.

Pretrained ImageNet weights cannot be downloaded at run time. Random weights alone give a network
whose batch-normalization statistics are the initial ones (mean 0, variance 1), which makes every
output the uniform 1/1000; the statistics are therefore calibrated once on generated images (one
training-mode pass with momentum 0), so that outputs differ per image and parity means something.
The architecture, parameter count and compute per request are MobileNetV2's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.image.data import CHANNELS, SIZE, images

CALIBRATION_IMAGES = 32


def build() -> tuple[Any, Any]:
    import keras

    inputs = keras.Input((SIZE, SIZE, CHANNELS), name="image")
    # The request carries raw 8-bit pixels; MobileNetV2's preprocessing (to [-1, 1]) is in the model.
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(inputs)
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, CHANNELS), weights=None, classes=1000)
    return keras.Model(inputs, base(scaled), name="image"), base


def calibrate(model: Any, base: Any, seed: int) -> None:
    norms = [layer for layer in base.layers if type(layer).__name__ == "BatchNormalization"]
    momentum = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images(CALIBRATION_IMAGES, seed), training=True)
    for layer, m in zip(norms, momentum, strict=True):
        layer.momentum = m


def train(seed: int) -> tuple[Any, dict[str, Any]]:
    model, base = build()
    calibrate(model, base, seed)
    probe = np.asarray(model(images(8, seed + 1), training=False))
    return model, {
        "weights": "seeded random, batch-norm calibrated",
        "distinct_top1": len(set(probe.argmax(axis=1).tolist())),
    }

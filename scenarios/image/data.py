"""Seeded ImageNet-shaped images (224x224x3, pixel values 0..255).

No image can be downloaded, and MobileNetV2 here has seeded random weights (see the README), so
what matters is the shape and the bytes on the wire: smooth random colour fields, like photos'
low-frequency content, upsampled from a coarse grid and quantized to 8-bit pixels.
"""

from __future__ import annotations

import numpy as np

SIZE = 224
CHANNELS = 3


def images(count: int, seed: int, coarse: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grid = rng.uniform(0, 255, size=(count, coarse, coarse, CHANNELS))
    reps = SIZE // coarse
    smooth = np.repeat(np.repeat(grid, reps, axis=1), reps, axis=2)
    noise = rng.normal(0, 12, size=smooth.shape)
    return np.clip(np.rint(smooth + noise), 0, 255).astype(np.float32)

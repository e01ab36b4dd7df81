"""Cryptocoin price forecasting: a DNN predicting Bitcoin's next price (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from scenarios.common.base import KerasScenario
from scenarios.crypto import data, model

N_DAYS = 1500


class Crypto(KerasScenario):
    id = "crypto"
    description = "DNN forecasting Bitcoin's next price from moving averages of 8 correlated coins"
    payload_sizes: ClassVar[dict[str, int]] = {"small": 1, "medium": 10, "large": 100}
    # Outputs are ratios near 1 computed from raw prices up to ~1e5: float32 rounding of the
    # normalization differs between runtimes by a few ulps of the inputs.
    tolerance = 1e-4

    def train(self, seed: int, progress: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
        return model.train(data.generate(N_DAYS, seed), seed)

    def make_instances(self, count: int, seed: int) -> np.ndarray:
        return data.generate(count, seed).x


SCENARIO = Crypto()

"""Sentiment analysis: a CNN text classifier over IMDb-shaped token ids (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scenarios.common.base import KerasScenario
from scenarios.sentiment import data, model

N_REVIEWS = 4000


class Sentiment(KerasScenario):
    id = "sentiment"
    description = "CNN text classifier over token ids of IMDb-shaped reviews"
    payload_sizes: ClassVar[dict[str, int]] = {"small": 1, "medium": 10, "large": 100}
    input_dtype = "int32"
    tolerance = 1e-5

    def train(self, seed: int, progress: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
        return model.train(data.generate(N_REVIEWS, seed), seed)

    def make_instances(self, count: int, seed: int) -> np.ndarray:
        return data.generate(count, seed).x

    def build(self, out_dir: Path, seed: int, progress: Callable[[str], None] = lambda _: None) -> Any:
        (out_dir / "source").mkdir(parents=True, exist_ok=True)
        data.save_tokenizer(out_dir / "source" / "tokenizer.json")
        return super().build(out_dir, seed, progress)


SCENARIO = Sentiment()

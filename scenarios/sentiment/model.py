"""A CNN text classifier over token ids (the Keras IMDb CNN pattern the study used)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.sentiment.data import SEQ_LEN, VOCAB, Dataset

EPOCHS = 4


def train(data: Dataset, seed: int) -> tuple[Any, dict[str, Any]]:
    import keras

    split = int(0.8 * len(data.y))
    model = keras.Sequential(
        [
            keras.Input((SEQ_LEN,), dtype="int32", name="token_ids"),
            keras.layers.Embedding(VOCAB, 64),
            keras.layers.Dropout(0.2),
            keras.layers.Conv1D(128, 5, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", name="positive"),
        ],
        name="sentiment",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(data.x[:split], data.y[:split], epochs=EPOCHS, batch_size=64, verbose=0)
    predicted = np.asarray(model(data.x[split:], training=False)).ravel() > 0.5
    return model, {"accuracy": round(float(np.mean(predicted == data.y[split:].astype(bool))), 4)}

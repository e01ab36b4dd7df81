"""A small DNN regressor over the moving averages; normalization is inside the model."""

from __future__ import annotations

from typing import Any

import numpy as np

from scenarios.crypto.data import Dataset

EPOCHS = 60


def train(data: Dataset, seed: int) -> tuple[Any, dict[str, Any]]:
    import keras

    # Held-out days are drawn at random, not the last 20 %: prices drift far over the series, and
    # the point is a model that has learnt the cross-coin signal, not a trading backtest.
    order = np.random.default_rng(seed).permutation(len(data.y))
    data = Dataset(data.x[order], data.y[order], data.features)
    split = int(0.8 * len(data.y))
    # Features are raw prices spanning 1e-2..1e4: the model normalizes them itself, so that every
    # framework receives the same raw request and no client-side preprocessing can differ.
    norm = keras.layers.Normalization(name="normalize")
    norm.adapt(data.x[:split])
    model = keras.Sequential(
        [
            keras.Input((data.x.shape[1],), name="moving_averages"),
            norm,
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1, name="btc_next_over_ma7"),
        ],
        name="crypto",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(data.x[:split], data.y[:split], epochs=EPOCHS, batch_size=64, verbose=0)
    pred = np.asarray(model(data.x[split:], training=False)).ravel()
    truth = data.y[split:]
    mae = float(np.mean(np.abs(pred - truth)))
    naive = float(np.mean(np.abs(1.0 - truth)))  # "tomorrow equals the 7-day average"
    return model, {"mae_ratio": round(mae, 5), "naive_mae_ratio": round(naive, 5)}

"""Seeded correlated price series of 8 cryptocoins and the study's features: moving averages.

Prices follow correlated geometric Brownian motion (one shared market factor plus each coin's own
noise; Cholesky of a fixed correlation structure), so Bitcoin's next price depends on the others'
recent moves as in the real market the study used. Features for day t are each coin's 7-, 14- and
30-day moving averages up to t; the target is Bitcoin's price on day t+1 relative to its 7-day
average (a ratio near 1, so the regression is well scaled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COINS = ("BTC", "ETH", "BNB", "XRP", "ADA", "SOL", "DOGE", "LTC")
START_PRICES = np.array([30_000, 2_000, 300, 0.5, 0.4, 25, 0.08, 90], dtype=np.float64)
WINDOWS = (7, 14, 30)
N_FEATURES = len(COINS) * len(WINDOWS)


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray  # (n, 24) float32: MA7, MA14, MA30 for each coin
    y: np.ndarray  # (n,) float32: BTC[t+1] / BTC MA7[t]
    features: list[str]


def prices(days: int, seed: int) -> np.ndarray:
    """(days, 8) daily closes."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.03, size=(days, 1))
    own = rng.normal(0, 0.02, size=(days, len(COINS)))
    loading = np.linspace(0.9, 0.5, len(COINS))[None, :]  # BTC follows the market most
    returns = 0.0003 + loading * market + own
    # Bitcoin also reacts, a day late, to the mean move of the others: the signal to learn.
    returns[1:, 0] += 0.3 * returns[:-1, 1:].mean(axis=1)
    return START_PRICES * np.exp(np.cumsum(returns, axis=0))


def moving_averages(p: np.ndarray) -> np.ndarray:
    cols = []
    csum = np.cumsum(np.vstack([np.zeros((1, p.shape[1])), p]), axis=0)
    for w in WINDOWS:
        ma = (csum[w:] - csum[:-w]) / w  # row i: mean of p[i : i + w]
        cols.append(ma[max(WINDOWS) - w :])  # align every window on the same last day
    return np.concatenate(cols, axis=1)  # rows: days max(WINDOWS)-1 .. end


def feature_names() -> list[str]:
    return [f"{coin}_ma{w}" for w in WINDOWS for coin in COINS]


def generate(n_days: int, seed: int) -> Dataset:
    p = prices(n_days + max(WINDOWS), seed)
    ma = moving_averages(p)[:-1]  # the last day has no next-day target
    first = max(WINDOWS) - 1
    btc_next = p[first + 1 : first + 1 + len(ma), 0]
    btc_ma7 = ma[:, 0]  # WINDOWS[0] block, coin 0
    return Dataset(ma.astype(np.float32), (btc_next / btc_ma7).astype(np.float32), feature_names())

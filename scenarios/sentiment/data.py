"""Seeded IMDb-shaped movie reviews and the tokenizer that turns them into token ids.

Reviews are drawn from a synthetic vocabulary with Zipf-distributed word frequencies (like
natural text) plus a lexicon of positive and negative words whose frequency depends on the review's
label, with lengths around IMDb's (median ~170 words, long tail). The tokenizer is built offline,
once, from a fixed reference corpus (as IMDb ships a fixed word index): ids by frequency, 0 for
padding, 1 for unknown words, at most VOCAB ids; sequences are padded or truncated to SEQ_LEN.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOCAB = 20_000
SEQ_LEN = 400
N_WORDS = 30_000  # the generator knows more words than the tokenizer keeps: some are unknown
TOKENIZER_SEED = 20_240_601
POSITIVE = [f"good{i}" for i in range(150)] + ["great", "wonderful", "superb", "moving", "brilliant"]
NEGATIVE = [f"bad{i}" for i in range(150)] + ["awful", "boring", "dull", "terrible", "waste"]


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray  # (n, SEQ_LEN) int32 token ids
    y: np.ndarray  # (n,) float32, 1 = positive


def _words() -> np.ndarray:
    return np.array([f"w{i:05d}" for i in range(N_WORDS)] + POSITIVE + NEGATIVE)


def reviews(count: int, seed: int) -> tuple[list[list[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = _words()
    zipf = 1.0 / np.arange(1, N_WORDS + 1) ** 1.07
    zipf /= zipf.sum()
    labels = rng.integers(0, 2, size=count)
    lengths = np.clip(rng.lognormal(5.15, 0.6, size=count).astype(int), 20, 1200)
    texts = []
    pos_ids = np.arange(N_WORDS, N_WORDS + len(POSITIVE))
    neg_ids = np.arange(N_WORDS + len(POSITIVE), N_WORDS + len(POSITIVE) + len(NEGATIVE))
    for label, length in zip(labels, lengths, strict=True):
        ids = rng.choice(N_WORDS, size=length, p=zipf)
        # About 4 % of a review's words carry sentiment, mostly (80 %) of the review's label.
        mask = rng.random(length) < 0.04
        agree = rng.random(length) < 0.8
        own, other = (pos_ids, neg_ids) if label == 1 else (neg_ids, pos_ids)
        ids[mask & agree] = rng.choice(own, size=int(np.sum(mask & agree)))
        ids[mask & ~agree] = rng.choice(other, size=int(np.sum(mask & ~agree)))
        texts.append(words[ids].tolist())
    return texts, labels.astype(np.float32)


@functools.lru_cache(maxsize=1)
def tokenizer() -> dict[str, int]:
    """word -> id, built from a fixed reference corpus of 2,000 reviews."""
    texts, _ = reviews(2000, TOKENIZER_SEED)
    counts: dict[str, int] = {}
    for text in texts:
        for word in text:
            counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[: VOCAB - 2]
    return {word: i + 2 for i, word in enumerate(ranked)}


def encode(texts: list[list[str]]) -> np.ndarray:
    index = tokenizer()
    out = np.zeros((len(texts), SEQ_LEN), dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [index.get(word, 1) for word in text[:SEQ_LEN]]
        out[row, : len(ids)] = ids
    return out


def generate(count: int, seed: int) -> Dataset:
    texts, labels = reviews(count, seed)
    return Dataset(encode(texts), labels)


def save_tokenizer(path: Path) -> None:
    path.write_text(
        json.dumps({"seq_len": SEQ_LEN, "padding": 0, "unknown": 1, "index": tokenizer()}, sort_keys=True)
    )

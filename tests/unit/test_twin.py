"""The Keras -> torch twin, layer by layer, against Keras itself."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from scenarios.common.twin import Unsupported, trace, twin_of  # noqa: E402


def run(model: object, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    want = np.asarray(model(x, training=False))  # type: ignore[operator]
    with torch.no_grad():
        got = twin_of(model)(torch.from_numpy(x)).numpy()
        traced = trace(twin_of(model), x[:1])(torch.from_numpy(x)).numpy()
    assert np.allclose(got, traced, atol=1e-6)
    return got, want


def test_dense_stack() -> None:
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((7,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    got, want = run(m, np.random.default_rng(0).random((4, 7)).astype("float32"))
    assert np.abs(got - want).max() < 1e-6


def test_text_cnn() -> None:
    keras.utils.set_random_seed(2)
    m = keras.Sequential(
        [
            keras.Input((30,), dtype="int32"),
            keras.layers.Embedding(50, 8),
            keras.layers.Dropout(0.5),
            keras.layers.Conv1D(6, 5, strides=2, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    got, want = run(m, np.random.default_rng(1).integers(0, 50, (3, 30)).astype("int32"))
    assert np.abs(got - want).max() < 1e-6


def test_mobilenet_style_blocks_with_tf_same_padding() -> None:
    keras.utils.set_random_seed(3)
    inp = keras.Input((17, 17, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)  # odd size, stride 2
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    y = keras.layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
    y = keras.layers.DepthwiseConv2D(3, strides=1, padding="valid")(y)
    y = keras.layers.Conv2D(8, 1, padding="same")(keras.layers.ZeroPadding2D(((1, 0), (1, 0)))(y))
    x = keras.layers.Add()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(4, activation="softmax")(x)
    inner = keras.Model(inp, out)
    outer_in = keras.Input((17, 17, 3))
    model = keras.Model(outer_in, inner(outer_in))  # nested models are inlined
    bn = next(layer for layer in inner.layers if type(layer).__name__ == "BatchNormalization")
    bn.set_weights([np.full(8, 1.5), np.full(8, 0.1), np.full(8, 0.2), np.full(8, 2.0)])
    got, want = run(model, np.random.default_rng(2).integers(0, 256, (2, 17, 17, 3)).astype("float32"))
    assert np.abs(got - want).max() < 1e-6


def test_normalization_layer() -> None:
    norm = keras.layers.Normalization()
    norm.adapt(np.random.default_rng(3).random((50, 4)) * 1000)
    m = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(2)])
    got, want = run(m, (np.random.default_rng(4).random((3, 4)) * 1000).astype("float32"))
    assert np.abs(got - want).max() < 1e-4


def test_unsupported_layer_is_named() -> None:
    m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.MaxPooling2D(2)])
    with pytest.raises(Unsupported, match="MaxPooling2D"):
        twin_of(m)

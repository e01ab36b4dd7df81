import numpy as np
import pytest

from kit import scenarios
from kit.errors import KitError, UsageError
from scenarios.crypto import data as crypto
from scenarios.image import data as image
from scenarios.malware import data as malware
from scenarios.sentiment import data as sentiment


def test_malware_is_seeded_and_binary() -> None:
    a, b = malware.generate(200, 1), malware.generate(200, 1)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.x.shape == (200, 400) and set(np.unique(a.x)) <= {0.0, 1.0}
    assert not np.array_equal(a.x, malware.generate(200, 2).x)


def test_crypto_moving_averages_are_what_they_say() -> None:
    p = crypto.prices(60, 3)
    ma = crypto.moving_averages(p)
    last = len(ma) - 1  # row i ends on day i + 29
    day = last + 29
    for w_index, w in enumerate(crypto.WINDOWS):
        block = ma[:, w_index * 8 : (w_index + 1) * 8]
        assert np.allclose(block[last], p[day - w + 1 : day + 1].mean(axis=0))
    d = crypto.generate(100, 3)
    assert d.x.shape == (100, 24) and d.features[:2] == ["BTC_ma7", "ETH_ma7"]
    assert 0.5 < float(d.y.mean()) < 1.5
    assert np.array_equal(d.x, crypto.generate(100, 3).x)


def test_image_pixels() -> None:
    x = image.images(2, 5)
    assert x.shape == (2, 224, 224, 3) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 255 and np.array_equal(x, np.rint(x))
    assert np.array_equal(x, image.images(2, 5))


def test_sentiment_tokenizer() -> None:
    index = sentiment.tokenizer()
    assert (
        len(index) == sentiment.VOCAB - 2
        and min(index.values()) == 2
        and max(index.values()) == sentiment.VOCAB - 1
    )
    assert all(word in index for word in ("great", "awful", "good0", "bad0"))
    d = sentiment.generate(50, 9)
    assert d.x.shape == (50, 400) and d.x.dtype == np.int32
    assert d.x.max() < sentiment.VOCAB and (d.x == 0).any() and (d.x == 1).any()  # padding and unknowns
    assert np.array_equal(d.x, sentiment.generate(50, 9).x)


@pytest.mark.parametrize("scenario", ["malware", "crypto", "image", "sentiment"])
def test_payloads_per_framework(scenario: str) -> None:
    scn = scenarios.get(scenario)
    for framework in ("tfserving", "torchserve", "mlserver", "mlflow", "bentoml"):
        path, body, ctype = scn.payload(framework, "small", 42)
        assert ctype == "application/json" and path and body
        assert scn.payload(framework, "small", 42) == (path, body, ctype)
    sizes = [scn.instances(size, 42).shape[0] for size in ("small", "medium", "large")]
    assert sizes == list(scn.payload_sizes.values())


def test_bad_requests() -> None:
    scn = scenarios.get("malware")
    with pytest.raises(UsageError) as info:
        scn.payload("mlserver", "huge", 1)
    assert info.value.what == "unknown payload size 'huge'"
    with pytest.raises(UsageError) as info2:
        scn.payload("triton", "small", 1)
    assert info2.value.what == "unknown framework 'triton'"
    with pytest.raises(UsageError):
        scenarios.get("fraud")


def test_wrong_shape_answer_is_a_clear_error() -> None:
    scn = scenarios.get("malware")
    with pytest.raises(KitError) as info:
        scenarios.compare(scn, "mlflow", np.zeros((3, 1)), np.zeros((10, 1)), "server")
    assert info.value.what == "mlflow server returned outputs of shape (3, 1) for malware, expected (10, 1)"


@pytest.mark.parametrize(
    ("framework", "response", "named", "wanted"),
    [
        ("tfserving", '{"predictions": [[0.25], [null], [0.75]]}', "NaN (null or NaN) at index [1, 0]", 0.5),
        ("torchserve", '{"predictions": [[0.25], [NaN], [0.75]]}', "NaN (null or NaN) at index [1, 0]", 0.5),
        ("bentoml", '{"predictions": [[0.25], [0.5], [Infinity]]}', "inf at index [2, 0]", 0.75),
        (
            "mlserver",
            '{"outputs": [{"name": "o", "shape": [3, 1], "datatype": "FP32", "data": [-Infinity, 0.5, 0.75]}]}',
            "-inf at index [0, 0]",
            0.25,
        ),
    ],
)
def test_a_non_finite_answer_fails_parity(framework: str, response: str, named: str, wanted: float) -> None:
    # A server answering null or NaN made the largest difference NaN, and `NaN > tolerance` is false:
    # the check passed. The outputs are parsed as the server's answer is (protocols.outputs).
    from scenarios.common import protocols

    scn = scenarios.get("malware")
    want = np.array([[0.25], [0.5], [0.75]])
    with pytest.raises(KitError) as info:
        scenarios.compare(scn, framework, protocols.outputs(framework, response), want, "server")
    assert info.value.what == (
        f"parity failed: {framework} server returned {named} where the malware source model "
        f"gives {wanted:g} (1 of 3 values not finite)"
    )
    assert info.value.hint.startswith("The server computes something other than the model that was built")


def test_a_finite_answer_within_tolerance_still_passes() -> None:
    scn = scenarios.get("malware")
    want = np.array([[0.25], [0.5]])
    verdict = scenarios.compare(scn, "mlflow", want + 1e-7, want, "server")
    assert verdict["verdict"] == "pass" and verdict["max_abs_diff"] == pytest.approx(1e-7)
    # Where the source model itself is not finite, the same non-finite value agrees and nothing else does.
    odd = np.array([[np.nan], [np.inf]])
    assert scenarios.compare(scn, "mlflow", odd.copy(), odd, "server")["max_abs_diff"] == 0.0
    with pytest.raises(KitError) as info:
        scenarios.compare(scn, "mlflow", np.array([[0.5], [np.inf]]), odd, "server")
    assert info.value.what == (
        "parity failed: mlflow server returned 0.5 at index [0, 0] where the malware source model gives "
        "nan (the source model's own output is not finite there)"
    )


@pytest.mark.parametrize("scenario", ["malware", "crypto", "image", "sentiment"])
def test_instances_per_payload_are_what_the_payloads_carry(scenario: str) -> None:
    counts = scenarios.instances_per_payload(scenario)
    assert list(counts) == ["small", "medium", "large"]
    # The very number of instances each payload's request is built from.
    assert counts == {size: scenarios.get(scenario).instances(size, 42).shape[0] for size in counts}


def test_instances_per_payload_of_a_bad_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    assert scenarios.instances_per_payload("image") == {"small": 1, "medium": 4, "large": 16}
    scn = scenarios.get("crypto")
    monkeypatch.setattr(type(scn), "payload_sizes", {"small": 1, "medium": 0})
    with pytest.raises(KitError) as info:
        scenarios.instances_per_payload("crypto")
    assert (info.value.what, info.value.hint) == (
        "scenario crypto has no instance count for payload medium, large",
        "Give every payload size a count > 0 in payload_sizes (scenarios/crypto/__init__.py)",
    )
    with pytest.raises(UsageError, match="unknown scenario 'fraud'"):
        scenarios.instances_per_payload("fraud")

import json

import numpy as np
import pytest

from scenarios.common import protocols

X = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)


@pytest.mark.parametrize(
    ("framework", "path", "key"),
    [
        ("tfserving", "/v1/models/malware:predict", "instances"),
        ("torchserve", "/predictions/malware", "instances"),
        ("mlflow", "/invocations", "inputs"),
        ("bentoml", "/predict", "instances"),
    ],
)
def test_row_protocols(framework: str, path: str, key: str) -> None:
    got_path, body = protocols.request(framework, "malware", X, "float32")
    assert got_path == path
    assert json.loads(body) == {key: [[0, 1, 1], [1, 0, 0]]}  # integral values travel as integers


def test_v2_protocol() -> None:
    path, body = protocols.request("mlserver", "crypto", np.array([[0.5, 2.25]], dtype=np.float32), "float32")
    assert path == "/v2/models/crypto/infer"
    assert json.loads(body) == {
        "inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP32", "data": [0.5, 2.25]}]
    }
    _, ints = protocols.request("mlserver", "sentiment", np.array([[3, 0]], dtype=np.int32), "int32")
    assert json.loads(ints)["inputs"][0]["datatype"] == "INT32"


def test_floats_round_trip_exactly_through_json() -> None:
    x = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    _, body = protocols.request("mlflow", "crypto", x, "float32")
    assert np.array_equal(np.asarray(json.loads(body)["inputs"], dtype=np.float32), x)


def test_outputs() -> None:
    assert protocols.outputs("tfserving", '{"predictions": [[0.25], [0.5]]}').tolist() == [[0.25], [0.5]]
    assert protocols.outputs("bentoml", b'{"predictions": [[1.0]]}').shape == (1, 1)
    v2 = '{"model_name":"m","outputs":[{"name":"output-0","shape":[2,1],"datatype":"FP32","data":[0.1,0.2]}]}'
    assert protocols.outputs("mlserver", v2).tolist() == [[0.1], [0.2]]


def test_unknown_framework() -> None:
    with pytest.raises(ValueError):
        protocols.request("triton", "m", X, "float32")

"""The kit's TF Serving REST client (requests, response parsing, the load engine) against a test double.

No TF Serving binary can be obtained on this machine, so `TFServingRestDouble` below stands in for
it in this test only: an HTTP server speaking TF Serving's documented REST predict API
(`POST /v1/models/<name>:predict`, `{"instances": ...}` -> `{"predictions": ...}`) that runs the
kit's exported SavedModel with TensorFlow. It is never used outside this file.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scenarios.common import exporters, protocols
from scenarios.common.base import quiet_tensorflow


class TFServingRestDouble:
    """A test double of TF Serving's REST predict endpoint, serving one SavedModel."""

    def __init__(self, name: str, saved_model: Path) -> None:
        import tensorflow as tf

        self.name = name
        self.signature = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
        (_, kwargs) = self.signature.structured_input_signature
        (self.arg,) = kwargs
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        import tensorflow as tf
        from aiohttp import web

        async def predict(request: web.Request) -> web.Response:
            if request.match_info["spec"] != f"{self.name}:predict":
                return web.json_response({"error": "Servable not found"}, status=404)
            body = await request.json()
            x = tf.constant(np.asarray(body["instances"], dtype=np.float32))
            out = next(iter(self.signature(**{self.arg: x}).values())).numpy()
            return web.json_response({"predictions": out.tolist()})

        app = web.Application()
        app.router.add_post("/v1/models/{spec}", predict)
        runner = web.AppRunner(app)
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.loop.run_forever()

    def __enter__(self) -> TFServingRestDouble:
        self.thread.start()
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return self
            except OSError:
                threading.Event().wait(0.05)
        raise RuntimeError("the TF Serving test double did not start")

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model_and_export(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((6,), name="features"),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    out = tmp_path_factory.mktemp("tfserving")
    exporters.export_tfserving(model, out, "toy", np.zeros((1, 6), dtype=np.float32))
    yield model, out / "toy" / "1"


def test_requests_and_parsing_through_the_rest_api(model_and_export: tuple[Any, Path]) -> None:
    model, saved = model_and_export
    x = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    path, body = protocols.request("tfserving", "toy", x, "float32")
    with TFServingRestDouble("toy", saved) as double:
        req = urllib.request.Request(
            f"http://127.0.0.1:{double.port}{path}",
            data=body,
            headers={"Content-Type": protocols.CONTENT_TYPE},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            got = protocols.outputs("tfserving", resp.read())
    want = np.asarray(model(x, training=False), dtype=np.float64)
    assert got.shape == (5, 2) and np.abs(got - want).max() < 1e-6


def test_the_load_engine_drives_the_rest_api(model_and_export: tuple[Any, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    from kit.load.plan import Phase, Plan, Target, engine_path

    _, saved = model_and_export
    path, body = protocols.request("tfserving", "toy", np.ones((1, 6), dtype=np.float32), "float32")
    with TFServingRestDouble("toy", saved) as double:
        plan = Plan(
            targets=[
                Target(
                    "POST",
                    f"http://127.0.0.1:{double.port}{path}",
                    {"Content-Type": "application/json"},
                    body,
                )
            ],
            phases=[Phase("measure", 20, 1.0)],
        )
        (tmp_path / "plan.json").write_text(plan.to_json())
        res = subprocess.run(
            [sys.executable, str(engine_path()), str(tmp_path / "plan.json"), str(tmp_path / "o.csv")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 0, res.stderr
    rows = (tmp_path / "o.csv").read_text().splitlines()[1:]
    assert len(rows) == 20 and all(",200," in row for row in rows)
    assert json.loads(res.stdout.strip().splitlines()[-1])["errors"] == 0

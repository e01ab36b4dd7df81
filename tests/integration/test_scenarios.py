"""The four scenarios built for real (Keras, TensorFlow, torch, MLflow, BentoML), parity in process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit import deploy, scenarios
from kit.cli import cli
from kit.config import Config
from kit.context import Context
from kit.errors import KitError
from kit.paths import Workspace

IDS = ["malware", "crypto", "image", "sentiment"]


@pytest.fixture(scope="module")
def ctx(shared_home: Path, environment: Any) -> Iterator[Context]:
    with environment(KIT_HOME=str(shared_home)):
        yield Context(Config(), Workspace(shared_home))


@pytest.fixture(scope="module")
def builds(ctx: Context) -> dict[str, scenarios.BuildResult]:
    return {sid: deploy.build(ctx, sid) for sid in IDS}


@pytest.mark.parametrize("sid", IDS)
def test_every_scenario_exports_to_all_five_frameworks(
    builds: dict[str, scenarios.BuildResult], sid: str
) -> None:
    built = builds[sid]
    assert sorted(built.exports) == ["bentoml", "mlflow", "mlserver", "tfserving", "torchserve"]
    root = built.root
    assert (root / "tfserving" / sid / "1" / "saved_model.pb").exists()
    assert (root / "torchserve" / f"{sid}.mar").exists()
    assert (root / "mlflow" / "MLmodel").exists() and (root / "mlserver" / "model" / "MLmodel").exists()
    assert json.loads((root / "mlserver" / "model-settings.json").read_text())["implementation"] == (
        "mlserver_mlflow.MLflowRuntime"
    )
    assert (root / "bentoml" / "service.py").exists() and (root / "bentoml" / "model.keras").exists()
    assert all((root / fw / "kit-verify.json").exists() for fw in built.exports)
    assert built.hashes == scenarios.file_hashes(root) and built.metrics["parameters"] > 0


def test_models_learned_something(builds: dict[str, scenarios.BuildResult]) -> None:
    assert builds["malware"].metrics["accuracy"] > builds["malware"].metrics["majority_baseline"]
    assert builds["sentiment"].metrics["accuracy"] > 0.7
    assert builds["crypto"].metrics["mae_ratio"] < builds["crypto"].metrics["naive_mae_ratio"]
    assert builds["image"].metrics["parameters"] == 3_538_984


def test_builds_are_cached_by_content(ctx: Context, builds: dict[str, scenarios.BuildResult]) -> None:
    again = deploy.build(ctx, "malware")
    assert again.cached and again.digest == builds["malware"].digest


@pytest.mark.parametrize("sid", IDS)
def test_parity_in_process(ctx: Context, builds: dict[str, scenarios.BuildResult], sid: str) -> None:
    results = deploy.parity_in_process(ctx, [sid])[sid]
    assert {fw: r["verdict"] for fw, r in results.items()} == dict.fromkeys(
        ["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"], "pass"
    )


def test_parity_command(builds: dict[str, scenarios.BuildResult]) -> None:
    result = CliRunner().invoke(cli, ["parity", "crypto", "--json"], catch_exceptions=False, prog_name="kit")
    assert result.exit_code == 0, result.stderr
    assert {r["verdict"] for r in json.loads(result.stdout)["crypto"].values()} == {"pass"}


def test_a_corrupt_artifact_is_refused(
    ctx: Context, builds: dict[str, scenarios.BuildResult], tmp_path: Path
) -> None:
    copy = tmp_path / "artifacts"
    shutil.copytree(builds["crypto"].root.parent, copy)
    (copy / builds["crypto"].root.name / "torchserve" / "model.pt").write_bytes(b"not a model")
    with pytest.raises(KitError) as info:
        scenarios.build_cached(scenarios.get("crypto"), copy, seed=ctx.cfg.seed)
    assert info.value.what.endswith("was modified or is corrupt")


def test_an_export_that_computes_something_else_fails_parity(
    ctx: Context, builds: dict[str, scenarios.BuildResult], tmp_path: Path
) -> None:
    root = tmp_path / "build"
    shutil.copytree(builds["malware"].root, root)
    other = builds["crypto"].root
    # Swap in another model's TorchScript file: it loads, runs, and answers the wrong thing.
    shutil.copy(other / "torchserve" / "model.pt", root / "torchserve" / "model.pt")
    scn = scenarios.get("malware")
    with pytest.raises(Exception) as info:
        tampered = scenarios.BuildResult("malware", root, "x", {}, {}, cached=True)
        scenarios.parity_in_process(scn, tampered, ctx.cfg.seed)
    assert "torchserve" in str(info.value)


def test_replies_sampled_under_load_are_compared_with_the_model(
    ctx: Context, builds: dict[str, scenarios.BuildResult], tmp_path: Path
) -> None:
    import base64

    import numpy as np

    from kit.bench import outputs

    want = scenarios.get("malware").reference_outputs(builds["malware"].root, ctx.cfg.seed, "small")
    assert want.shape[0] == scenarios.get("malware").payload_sizes["small"]
    bodies = [
        (200, {"predictions": want.tolist()}),  # the model's answer
        (200, {"predictions": (np.asarray(want) + 0.25).tolist()}),  # fast but wrong
        (500, "boom"),  # an error: the rows count it, not compared
        (200, "<html>oops</html>"),  # not the framework's answer at all
    ]
    lines = [
        json.dumps(
            {
                "seq": 50 * k,
                "code": code,
                "truncated": False,
                "body_b64": base64.b64encode(
                    (body if isinstance(body, str) else json.dumps(body)).encode()
                ).decode(),
            }
        )
        for k, (code, body) in enumerate(bodies)
    ]
    path = tmp_path / "cell.engine.samples.jsonl"
    path.write_text("\n".join(lines) + "\n")
    account = outputs.check("malware", "mlflow", builds["malware"], ctx.cfg.seed, "small", path, 50)
    assert {k: account[k] for k in ("every", "sampled", "compared", "mismatched", "truncated")} == {
        "every": 50,
        "sampled": 3,
        "compared": 3,
        "mismatched": 2,
        "truncated": 0,
    }
    assert account["first_mismatch"].startswith("request 50: parity failed: mlflow under load differs from")
    assert outputs.warning(account).startswith("2 of 3 sampled replies differ from the model's outputs")

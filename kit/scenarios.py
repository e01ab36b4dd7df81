"""Registry of scenarios, their content-hashed builds, and the parity check through a server.

The code of each scenario lives in `scenarios/<id>/`; this module finds it, builds it once per set
of inputs (its source files, the seed and the library versions that write the artifacts), and
records a hash of every artifact so that the manifest says exactly which model was measured.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kit.errors import KitError, UsageError
from kit.ids import FRAMEWORKS, PAYLOADS, SCENARIOS

IMPLEMENTED: tuple[str, ...] = ("malware",)
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
#: Libraries whose version changes the bytes of an artifact.
BUILD_LIBRARIES = ("scikit-learn", "numpy", "joblib")


@dataclass(frozen=True)
class BuiltModel:
    """What `Scenario.build` reports: the sha256 of every file it wrote, and how good the model is."""

    #: Path relative to the build folder (e.g. "mlserver/model.joblib") -> sha256.
    hashes: dict[str, str]
    #: Free-form per scenario (accuracy, error, parameter count, seconds...); recorded with the build.
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildResult:
    scenario: str
    root: Path
    digest: str
    hashes: dict[str, str]
    metrics: dict[str, Any]
    cached: bool

    @property
    def exports(self) -> dict[str, Path]:
        return {p.name: p for p in sorted(self.root.iterdir()) if p.is_dir()}


class Scenario(ABC):
    id: ClassVar[str]
    description: ClassVar[str]
    payload_sizes: ClassVar[dict[str, int]]
    frameworks: ClassVar[tuple[str, ...]]
    #: Largest absolute difference allowed between a server's outputs and the in-process model's.
    tolerance: ClassVar[float]

    @abstractmethod
    def build(self, out_dir: Path, seed: int) -> BuiltModel:
        """Generate data, train, export for every framework under out_dir/<framework>/."""

    @abstractmethod
    def payload(self, framework: str, size: str, seed: int) -> tuple[str, bytes, str]:
        """(URL path, body, content type) of one request of `size` in the framework's protocol."""

    @abstractmethod
    def reference_outputs(self, out_dir: Path, seed: int) -> np.ndarray:
        """The built model's outputs, computed in process, on the parity inputs."""

    @abstractmethod
    def parse_outputs(self, framework: str, response: str) -> np.ndarray:
        """A server's response to the parity request, as an array comparable with the reference."""

    def check_request(self, framework: str, size: str) -> None:
        if size not in self.payload_sizes:
            raise UsageError(f"unknown payload size '{size}'", f"Choose one of: {', '.join(PAYLOADS)}")
        if framework not in self.frameworks:
            raise unsupported_framework(self.id, framework, self.frameworks)


def unsupported_framework(scenario: str, framework: str, frameworks: tuple[str, ...]) -> UsageError:
    if framework not in FRAMEWORKS:
        return UsageError(f"unknown framework '{framework}'", f"Choose one of: {', '.join(FRAMEWORKS)}")
    return UsageError(
        f"scenario {scenario} has no export for {framework} yet",
        f"Exports available so far: {', '.join(frameworks)}",
    )


def ids() -> tuple[str, ...]:
    """Every scenario id of the design, built or not; `IMPLEMENTED` says which have code so far."""
    return SCENARIOS


def get(scenario_id: str) -> Scenario:
    """The scenario's `SCENARIO` object, imported from `scenarios.<id>` only when asked for."""
    if scenario_id not in SCENARIOS:
        raise UsageError(f"unknown scenario '{scenario_id}'", f"Choose one of: {', '.join(SCENARIOS)}")
    if scenario_id not in IMPLEMENTED:
        raise KitError(
            f"scenario '{scenario_id}' is not implemented yet",
            f"Scenarios available so far: {', '.join(IMPLEMENTED)}",
        )
    module = importlib.import_module(f"scenarios.{scenario_id}")
    scenario: Scenario = module.SCENARIO
    return scenario


def input_digest(scenario_id: str, seed: int) -> str:
    """Hash of what determines the artifacts: the scenario's code, the seed, the writing libraries."""
    h = hashlib.sha256(f"{scenario_id}:{seed}".encode())
    for path in sorted((SCENARIOS_DIR / scenario_id).rglob("*.py")):
        h.update(path.relative_to(SCENARIOS_DIR).as_posix().encode())
        h.update(path.read_bytes())
    for lib in BUILD_LIBRARIES:
        h.update(f"{lib}=={metadata.version(lib)}".encode())
    return h.hexdigest()[:16]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.json"
    }


def build_cached(scenario: Scenario, artifacts: Path, seed: int) -> BuildResult:
    """Build into artifacts/<input digest>/ unless a complete build with that digest exists."""
    key = input_digest(scenario.id, seed)
    root = artifacts / key
    record = root / "build.json"
    if record.exists():
        info = json.loads(record.read_text())
        hashes = file_hashes(root)
        if hashes != info["hashes"]:
            raise KitError(
                f"the cached build of {scenario.id} at {root} was modified or is corrupt",
                f"Delete {root} and rerun: it is rebuilt from its seed",
            )
        return BuildResult(scenario.id, root, info["digest"], hashes, info["metrics"], cached=True)
    staging = artifacts / f".{key}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    built = scenario.build(staging, seed)
    hashes = file_hashes(staging)
    if built.hashes != hashes:
        # An exporter that misreports its files would let the manifest name bytes that were not served.
        differ = sorted({name for name, _ in set(built.hashes.items()) ^ set(hashes.items())})
        raise KitError(
            f"scenario {scenario.id} misreported the artifacts it built: {', '.join(differ)}",
            "This is a bug in the scenario's build; report it with the files under " + str(staging),
        )
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
    (staging / "build.json").write_text(
        json.dumps(
            {
                "scenario": scenario.id,
                "seed": seed,
                "input_digest": key,
                "digest": digest,
                "hashes": hashes,
                "metrics": built.metrics,
            },
            indent=2,
            default=float,
        )
    )
    if root.exists():
        shutil.rmtree(root)
    staging.rename(root)
    return BuildResult(scenario.id, root, digest, hashes, built.metrics, cached=False)


def parity_request(scenario: Scenario, framework: str, seed: int) -> tuple[str, bytes, str]:
    return scenario.payload(framework, "medium", seed)


def check_parity(
    scenario: Scenario, framework: str, built: BuildResult, seed: int, response: str
) -> dict[str, Any]:
    """Compare a server's answer with the in-process model on the same inputs; raise on a mismatch."""
    try:
        got = scenario.parse_outputs(framework, response)
    except (KeyError, ValueError, StopIteration, TypeError) as exc:
        raise KitError(
            f"{framework} answered the {scenario.id} parity request with something unexpected ({exc})",
            f"Response began: {response[:200]!r}",
        ) from None
    want = scenario.reference_outputs(built.root, seed)
    if got.shape != want.shape:
        raise KitError(
            f"{framework} returned outputs of shape {got.shape} for {scenario.id}, expected {want.shape}",
            "The deployed model is not the one built; rerun `kit deploy`",
        )
    diff = float(np.max(np.abs(got - want))) if want.size else 0.0
    result = {
        "verdict": "pass" if diff <= scenario.tolerance else "fail",
        "max_abs_diff": diff,
        "tolerance": scenario.tolerance,
        "values": int(want.size),
    }
    if result["verdict"] != "pass":
        raise KitError(
            f"parity failed: {framework} differs from the in-process {scenario.id} model by {diff:.3g} "
            f"(tolerance {scenario.tolerance:g})",
            "The server is not running the built model; rerun `kit deploy` and check its log",
        )
    return result

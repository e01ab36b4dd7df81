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
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from kit.errors import KitError, UsageError
from kit.ids import FRAMEWORKS, PAYLOADS, SCENARIOS

IMPLEMENTED: tuple[str, ...] = ("malware", "crypto", "image", "sentiment")
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
#: Libraries whose version changes the bytes of an artifact.
BUILD_LIBRARIES = ("tensorflow-cpu", "keras", "torch", "mlflow", "bentoml", "torch-model-archiver", "numpy")
#: Code shared by every scenario's build (the base class, exporters, twin, handler templates).
COMMON_DIR = "common"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class BuiltModel:
    """What `Scenario.build` reports: the sha256 of every file it wrote, and how good the model is."""

    #: Path relative to the build folder (e.g. "torchserve/model.pt") -> sha256.
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
        """Framework id -> its export folder (the source model's folder is not an export)."""
        return {p.name: p for p in sorted(self.root.iterdir()) if p.is_dir() and p.name in FRAMEWORKS}


class Scenario(ABC):
    id: ClassVar[str]
    description: ClassVar[str]
    payload_sizes: ClassVar[dict[str, int]]
    frameworks: ClassVar[tuple[str, ...]]
    #: Largest absolute difference allowed between a server's outputs and the in-process model's.
    tolerance: ClassVar[float]
    #: The payload size whose instances parity checks use.
    parity_size: ClassVar[str] = "medium"

    @abstractmethod
    def build(self, out_dir: Path, seed: int, progress: Callable[[str], None] = _quiet) -> BuiltModel:
        """Generate data, train, export for every framework under out_dir/<framework>/."""

    @abstractmethod
    def payload(self, framework: str, size: str, seed: int) -> tuple[str, bytes, str]:
        """(URL path, body, content type) of one request of `size` in the framework's protocol."""

    @abstractmethod
    def reference_outputs(self, out_dir: Path, seed: int, size: str | None = None) -> np.ndarray:
        """The built model's outputs, computed in process, on the parity inputs (or on the
        instances of the payload `size`: what a bench request carries)."""

    @abstractmethod
    def parse_outputs(self, framework: str, response: str) -> np.ndarray:
        """A server's response to a request (the parity request, or a bench payload's), as an array
        comparable with the reference."""

    @abstractmethod
    def inprocess_outputs(self, out_dir: Path, framework: str, seed: int) -> np.ndarray:
        """The framework's export loaded and run in this process on the parity inputs."""

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


def instances_per_payload(scenario_id: str) -> dict[str, int]:
    """Instances (inferences) one request of each payload size carries: the scenario's own
    `payload_sizes`, the counts its payload builder makes requests from, so that a cost per inference
    divides by what was sent. The bench records them in the manifest (manifest.record_payload_instances)."""
    counts = get(scenario_id).payload_sizes
    missing = [p for p in PAYLOADS if not _is_count(counts.get(p))]
    if missing:
        raise KitError(
            f"scenario {scenario_id} has no instance count for payload {', '.join(missing)}",
            f"Give every payload size a count > 0 in payload_sizes (scenarios/{scenario_id}/__init__.py)",
        )
    return {p: counts[p] for p in PAYLOADS}


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def input_digest(scenario_id: str, seed: int) -> str:
    """Hash of what determines the artifacts: the scenario's code, the seed, the writing libraries."""
    h = hashlib.sha256(f"{scenario_id}:{seed}".encode())
    sources = [*(SCENARIOS_DIR / scenario_id).rglob("*.py"), *(SCENARIOS_DIR / COMMON_DIR).rglob("*.py")]
    for path in sorted(sources):
        h.update(path.relative_to(SCENARIOS_DIR).as_posix().encode())
        h.update(path.read_bytes())
    for lib in BUILD_LIBRARIES:
        h.update(f"{lib}=={metadata.version(lib)}".encode())
    return h.hexdigest()[:16]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.json" and "__pycache__" not in p.parts
    }


def build_cached(
    scenario: Scenario, artifacts: Path, seed: int, progress: Callable[[str], None] = _quiet
) -> BuildResult:
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
    built = scenario.build(staging, seed, progress)
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
    return scenario.payload(framework, scenario.parity_size, seed)


def compare(
    scenario: Scenario, framework: str, got: np.ndarray, want: np.ndarray, where: str
) -> dict[str, Any]:
    """The parity verdict for one framework; a mismatch is a KitError naming the difference."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise KitError(
            f"{framework} {where} returned outputs of shape {got.shape} for {scenario.id}, "
            f"expected {want.shape}",
            "The export or the deployed model is not the one built; rebuild (`kit build`) and redeploy",
        )
    _require_same_non_finite(scenario, framework, got, want, where)
    finite = np.isfinite(want)
    diff = float(np.max(np.abs(got[finite] - want[finite]), initial=0.0))
    if diff > scenario.tolerance:
        raise KitError(
            f"parity failed: {framework} {where} differs from the {scenario.id} source model by {diff:.3g} "
            f"(tolerance {scenario.tolerance:g})",
            "The export is not the model that was built; rebuild (`kit build`) and redeploy (`kit deploy`)",
        )
    return {
        "verdict": "pass",
        "max_abs_diff": diff,
        "tolerance": scenario.tolerance,
        "values": int(want.size),
    }


def _require_same_non_finite(
    scenario: Scenario, framework: str, got: np.ndarray, want: np.ndarray, where: str
) -> None:
    """A NaN or an infinity must match the source model's exactly; a largest difference taken over a
    NaN is NaN, `NaN > tolerance` is false, and a server answering null or NaN would pass."""
    finite = np.isfinite(want)
    agree = np.where(finite, np.isfinite(got), (got == want) | (np.isnan(got) & np.isnan(want)))
    if agree.all():
        return
    first = np.unravel_index(int(np.argmin(agree)), want.shape)
    value = float(got[first])
    shown = "NaN (null or NaN)" if np.isnan(value) else f"{value:g}"
    index = "[" + ", ".join(str(int(i)) for i in first) + "]"
    if finite[first]:
        why = f"{np.count_nonzero(finite & ~np.isfinite(got))} of {want.size} values not finite"
    else:
        why = "the source model's own output is not finite there"
    raise KitError(
        f"parity failed: {framework} {where} returned {shown} at index {index} where the {scenario.id} "
        f"source model gives {float(want[first]):g} ({why})",
        "The server computes something other than the model that was built (a broken export, or a "
        "runtime that overflows); rebuild (`kit build`) and redeploy (`kit deploy`)",
    )


def check_parity(
    scenario: Scenario, framework: str, built: BuildResult, seed: int, response: str
) -> dict[str, Any]:
    """Compare a server's answer with the source model on the same inputs; raise on a mismatch."""
    try:
        got = scenario.parse_outputs(framework, response)
    except (KeyError, ValueError, StopIteration, TypeError, IndexError) as exc:
        raise KitError(
            f"{framework} answered the {scenario.id} parity request with something unexpected ({exc})",
            f"Response began: {response[:200]!r}",
        ) from None
    return compare(scenario, framework, got, scenario.reference_outputs(built.root, seed), "server")


def parity_in_process(scenario: Scenario, built: BuildResult, seed: int) -> dict[str, dict[str, Any]]:
    """Every export loaded in this process must compute what the source model computes."""
    want = scenario.reference_outputs(built.root, seed)
    results: dict[str, dict[str, Any]] = {}
    for framework in scenario.frameworks:
        got = scenario.inprocess_outputs(built.root, framework, seed)
        results[framework] = compare(scenario, framework, got, want, "export (in process)")
    return results

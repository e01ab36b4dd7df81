"""Names that are the same everywhere (docs/design.md section 3): role, host key, CLI value, column."""

from __future__ import annotations

from kit.errors import UsageError

FRAMEWORKS: tuple[str, ...] = ("tfserving", "torchserve", "mlserver", "mlflow", "bentoml")
SCENARIOS: tuple[str, ...] = ("malware", "crypto", "image", "sentiment")
PAYLOADS: tuple[str, ...] = ("small", "medium", "large")
PROVIDERS: tuple[str, ...] = ("local", "aws")


def server_host(framework: str) -> str:
    return f"srv-{framework}"


def require_framework(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise UsageError(f"unknown framework '{framework}'", f"Choose one of: {', '.join(FRAMEWORKS)}")


def require_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario '{scenario}'", f"Choose one of: {', '.join(SCENARIOS)}")

"""Names that are the same everywhere (DESIGN.md section 3): role, host key, CLI value, results column."""

from __future__ import annotations

FRAMEWORKS: tuple[str, ...] = ("tfserving", "torchserve", "mlserver", "mlflow", "bentoml")
SCENARIOS: tuple[str, ...] = ("malware", "crypto", "image", "sentiment")
PAYLOADS: tuple[str, ...] = ("small", "medium", "large")
PROVIDERS: tuple[str, ...] = ("local", "aws")



def server_host(framework: str) -> str:
    return f"srv-{framework}"

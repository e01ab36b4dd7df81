"""What the kit remembers about the environment it brought up (`.kit/env.json`).

Stages read and update it so that each is resumable: `kit up` reuses the environment id, `kit deploy`
skips a model already shipped with the same hash, `kit down` knows what to destroy.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import KitError


@dataclass
class EnvState:
    env_id: str
    provider: str
    created_at: str
    config_hash: str = ""
    image_alias: str = ""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployed: dict[str, dict[str, str]] = field(default_factory=dict)

    def mark(self, stage: str, **info: Any) -> None:
        self.stages[stage] = {"done_at": now(), **info}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_env_id() -> str:
    return f"env-{time.strftime('%Y%m%d', time.gmtime())}-{secrets.token_hex(3)}"


def load(path: Path) -> EnvState | None:
    if not path.exists():
        return None
    try:
        return EnvState(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise KitError(
            f"{path} is corrupt ({exc})", "Run `kit down` (it also finds hosts by tag), then `kit up`"
        ) from None


def save(state: EnvState, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def require(path: Path) -> EnvState:
    state = load(path)
    if state is None:
        raise KitError("no environment is up", "Run `kit up` first")
    return state

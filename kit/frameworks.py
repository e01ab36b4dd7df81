"""What the kit knows of each serving framework: version, explicit ports, how its workers are set.

Ports are never the frameworks' defaults (docs/design.md section 4: TorchServe and MLServer both default
to 8080-8082, and other software may hold them). The same facts are the roles' defaults; a test
checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.errors import KitError


@dataclass(frozen=True)
class Framework:
    id: str
    version: str
    #: The port requests go to (REST / HTTP inference).
    port: int
    #: Every port the framework listens on from the network, by purpose (firewalls open these).
    ports: dict[str, int]
    #: The Ansible variable that sets its worker count (recorded in the manifest).
    workers_var: str
    #: DL-specific (TF Serving, TorchServe) or general-purpose, as the study groups them.
    general_purpose: bool
    #: Ports bound to localhost only, set explicitly so that no default port is ever used.
    local_ports: dict[str, int] = field(default_factory=dict)

    @property
    def service(self) -> str:
        """Its systemd unit on the server host: each role installs it under the framework's id."""
        return self.id


FRAMEWORKS: dict[str, Framework] = {
    "tfserving": Framework(
        "tfserving",
        "2.19.0",
        8501,
        {"rest": 8501, "grpc": 8500},
        "tfserving_rest_api_num_threads",
        general_purpose=False,
    ),
    "torchserve": Framework(
        "torchserve",
        "0.12.0",
        8085,
        {
            "inference": 8085,
            "management": 8086,
            "metrics": 8087,
        },
        "torchserve_workers",
        general_purpose=False,
        local_ports={"grpc_inference": 8088, "grpc_management": 8089},
    ),
    "mlserver": Framework(
        "mlserver",
        "1.7.1",
        8090,
        {"http": 8090, "grpc": 8091, "metrics": 8092},
        "mlserver_parallel_workers",
        general_purpose=True,
    ),
    "mlflow": Framework("mlflow", "3.17.2", 5001, {"http": 5001}, "mlflow_workers", general_purpose=True),
    "bentoml": Framework("bentoml", "1.4.40", 3001, {"http": 3001}, "bentoml_workers", general_purpose=True),
}


def get(framework: str) -> Framework:
    try:
        return FRAMEWORKS[framework]
    except KeyError:
        raise KitError(
            f"unknown framework '{framework}'", f"Choose one of: {', '.join(FRAMEWORKS)}"
        ) from None

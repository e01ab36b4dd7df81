"""The framework roles' rendered configuration and unit files, and their agreement with the kit."""

from __future__ import annotations

import os

import jinja2
import pytest
import yaml

from kit.frameworks import FRAMEWORKS
from kit.paths import ANSIBLE_DIR

ROLES = ANSIBLE_DIR / "roles"


def defaults(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def render(role: str, template: str, **extra: object) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["basename"] = os.path.basename
    values = {
        **defaults(role),
        "ansible_managed": "managed by serving-kit",
        "kit_private_ip": "10.78.0.21",
        **extra,
    }
    # Role defaults that refer to other variables are templates themselves: resolve them once.
    values = {
        k: env.from_string(v).render(**values) if isinstance(v, str) and "{{" in v else v
        for k, v in values.items()
    }
    return env.from_string((ROLES / role / "templates" / template).read_text()).render(**values)


def test_tfserving_model_config_lists_every_model() -> None:
    text = render("tfserving", "models.config.j2", tfserving_model_names=["crypto", "malware"])
    assert text.count("config {") == 2
    assert (
        'name: "malware"\n    base_path: "/opt/tfserving/models/malware"\n    model_platform: "tensorflow"'
        in text
    )


def test_tfserving_unit_uses_explicit_ports_and_the_config_file() -> None:
    unit = render("tfserving", "tfserving.service.j2")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == (
        "ExecStart=/usr/bin/tensorflow_model_server --port=8500 --rest_api_port=8501 --rest_api_num_threads=1 "
        "--model_config_file=/opt/tfserving/models.config --file_system_poll_wait_seconds=0"
    )
    assert "User=tfserving" in unit and "StateDirectory=tfserving" in unit


def test_torchserve_config_binds_private_address_token_auth_off_management_on() -> None:
    text = render("torchserve", "config.properties.j2")
    assert "inference_address=http://10.78.0.21:8085" in text
    assert (
        "management_address=http://10.78.0.21:8086" in text
        and "metrics_address=http://10.78.0.21:8087" in text
    )
    assert "disable_token_authorization=true" in text and "enable_model_api=true" in text
    assert "default_workers_per_model=1" in text and "load_models=all" in text


def test_mlserver_settings_bind_private_address() -> None:
    import json

    settings = json.loads(render("mlserver", "settings.json.j2"))
    assert (settings["host"], settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (
        "10.78.0.21",
        8090,
        8091,
        8092,
    )
    assert settings["parallel_workers"] == 1


@pytest.mark.parametrize(
    ("role", "unit"), [("mlflow", "mlflow.service.j2"), ("bentoml", "bentoml.service.j2")]
)
def test_single_model_servers_bind_private_address(role: str, unit: str) -> None:
    text = render(role, unit)
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    port = FRAMEWORKS[role].port
    if role == "mlflow":
        assert f"-h 10.78.0.21 -p {port} -w 1" in exec_start and "--env-manager local" in exec_start
        assert "Environment=PATH=/opt/mlflow/venv/bin:" in text
    else:
        assert f"--host 10.78.0.21 --port {port}" in exec_start
        assert "BENTOML_DO_NOT_TRACK=true" in text and "KIT_BENTOML_WORKERS=1" in text


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_kit_and_roles_agree_on_ports_versions_and_worker_variables(framework: str) -> None:
    fw, d = FRAMEWORKS[framework], defaults(framework)
    assert d[f"{framework}_version"] == fw.version
    assert fw.workers_var in d
    role_ports = {v for k, v in d.items() if k.endswith("_port") and isinstance(v, int)}
    assert role_ports == set(fw.ports.values()) | set(fw.local_ports.values())


def test_every_role_documents_every_default() -> None:
    for role_dir in sorted(p for p in ROLES.iterdir() if (p / "defaults" / "main.yml").exists()):
        specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        documented = {name for entry in specs.values() for name in (entry.get("options") or {})}
        missing = set(defaults(role_dir.name) or {}) - documented
        assert not missing, f"{role_dir.name}: {sorted(missing)}"


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_each_role_installs_the_unit_the_kit_restarts(framework: str) -> None:
    # kit bench restarts a server left not serving with `systemctl restart <Framework.service>`.
    tasks = yaml.safe_load((ROLES / framework / "tasks" / "service.yml").read_text())
    dests = [t["ansible.builtin.template"]["dest"] for t in tasks if "ansible.builtin.template" in t]
    assert f"/etc/systemd/system/{FRAMEWORKS[framework].service}.service" in dests
    assert (ROLES / framework / "templates" / f"{FRAMEWORKS[framework].service}.service.j2").exists()


def test_every_server_may_hold_the_connections_of_an_open_loop() -> None:
    # MLflow at 200 req/s in the paper run: "OSError: [Errno 24] Too many open files" in accept(),
    # then uvicorn aborted; systemd's default of 1024 open files, not the framework, was measured.
    limits = set()
    for framework in sorted(FRAMEWORKS):
        unit = render(framework, f"{FRAMEWORKS[framework].service}.service.j2")
        limits |= {ln for ln in unit.splitlines() if ln.startswith("LimitNOFILE=")}
    assert limits == {"LimitNOFILE=65536"}  # in every unit, the same for all

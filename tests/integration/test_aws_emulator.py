"""The aws provider end to end against moto's server on 127.0.0.1 (started and stopped here, by PID).

terraform/aws runs unchanged but for `aws_endpoint`; moto knows the images the data sources look for
from tests/data/aws/amis.json (MOTO_AMIS_PATH). Nothing here reaches AWS or any host outside this
machine: every host moto "creates" is a record, and nothing connects to its addresses.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from kit import config, env, envstate, proc
from kit.cli import cli
from kit.context import Context
from kit.errors import KitError, UsageError
from kit.ids import FRAMEWORKS
from kit.paths import TERRAFORM_DIR, Workspace
from kit.provision import aws_preflight, aws_reap, inventory, tfcli

DATA = Path(__file__).parents[1] / "data"
OPERATOR = "203.0.113.7/32"
TAGS = ("Project", "RunId", "Owner", "ExpiresAt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        pytest.fail("moto_server is missing: `make setup` installs moto[server] (the dev extra)")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    pid = proc.spawn_daemon(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        log=log,
        env={"MOTO_AMIS_PATH": str(DATA / "aws" / "amis.json")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


@pytest.fixture
def emulator(moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A fresh emulator, and credentials for it only: no profile, no metadata service, no real AWS."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=10
    ).close()
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("KIT_HOME", str(tmp_path))
    monkeypatch.delenv("KIT_CONFIG", raising=False)
    return moto


@pytest.fixture(scope="module")
def mirror() -> tfcli.Source:
    source = tfcli.find_source("")
    if source.mirror is None:
        pytest.fail(
            "these tests need hashicorp/aws in a filesystem mirror (the machine image's /opt/tf-plugins)"
        )
    return source


def settings(url: str, **aws: Any) -> dict[str, Any]:
    return {
        "frameworks": ["mlserver"],
        "aws": {"endpoint": url, "operator_cidr": OPERATOR, "owner": "tester", **aws},
    }


def write_config(tmp_path: Path, raw: dict[str, Any]) -> Path:
    lines = [f"frameworks = {json.dumps(raw['frameworks'])}", "[aws]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in raw["aws"].items()]
    path = tmp_path / "kit.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def ec2(url: str) -> Any:
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=url)


def run_kit(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, prog_name="kit", input=input)


def error_lines(result: Result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.startswith(("Error:", "Hint:"))]


def run_of(tmp_path: Path) -> str:
    state = envstate.load(tmp_path / ".kit" / "env.json")
    assert state is not None
    return state.env_id


# --- Terraform: formatting, validation, terraform test ---------------------------------------------


def test_fmt_and_validate_with_the_mirror(tmp_path: Path, mirror: tfcli.Source) -> None:
    dirs = [TERRAFORM_DIR / "aws", TERRAFORM_DIR / "modules" / "network", TERRAFORM_DIR / "modules" / "host"]
    proc.run(
        ["terraform", "fmt", "-check", "-recursive", *dirs],
        timeout=60,
        env={"TF_CLI_CONFIG_FILE": "/dev/null"},
    )
    cli_config = tfcli.write(tmp_path / "terraformrc", mirror)
    env = {"TF_CLI_CONFIG_FILE": str(cli_config), "TF_DATA_DIR": str(tmp_path / "data")}
    root = TERRAFORM_DIR / "aws"
    proc.run(
        ["terraform", f"-chdir={root}", "init", "-backend=false", "-input=false", "-no-color"],
        timeout=120,
        env=env,
    )
    res = proc.run(["terraform", f"-chdir={root}", "validate", "-json", "-no-color"], timeout=120, env=env)
    report = json.loads(res.stdout)
    assert report["valid"] is True and report["warning_count"] == 0, report


def make_keys(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    names = ["id", "client"] + [f"{p}-{fw}" for p in ("srv", "gpu") for fw in FRAMEWORKS]
    for name in names:
        path = where / (name if name == "id" else f"{name}_ed25519")
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], timeout=30)
    return where


@pytest.mark.parametrize(
    ("module", "passed"),
    [("aws", 2), ("modules/host", 2)],
)
def test_terraform_test_files(
    emulator: str, tmp_path: Path, mirror: tfcli.Source, module: str, passed: int
) -> None:
    """Plan-only runs of tests/emulator/: what only AWS answers (the newest image, an instance type's
    vCPUs, memory and GPUs). The rest is in each module's offline tests (a mock provider), run by
    `make lint`; the network module has nothing to ask AWS."""
    keys = make_keys(tmp_path / "keys")
    cli_config = tfcli.write(tmp_path / "terraformrc", mirror)
    env = {"TF_CLI_CONFIG_FILE": str(cli_config), "TF_DATA_DIR": str(tmp_path / "data")}
    root = TERRAFORM_DIR / module
    proc.run(
        ["terraform", f"-chdir={root}", "init", "-backend=false", "-input=false", "-no-color"],
        timeout=120,
        env=env,
    )
    if module == "aws":
        extra = [
            f"-var=aws_endpoint={emulator}",
            f"-var=ssh_public_key={keys}/id.pub",
            f"-var=host_keys_dir={keys}",
        ]
    else:
        # The modules have no provider block of their own: their test files' one reads the endpoint
        # from the AWS SDK's standard variable.
        env["AWS_ENDPOINT_URL"] = emulator
        extra = [f"-var=host_key_file={keys}/client_ed25519"] if module.endswith("host") else []
    res = proc.run(
        ["terraform", f"-chdir={root}", "test", "-test-directory=tests/emulator", "-no-color", *extra],
        timeout=600,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert f"Success! {passed} passed, 0 failed." in res.stdout


# --- kit up (provision) / inventory / kit down ------------------------------------------------------


def all_tagged(url: str, run_id: str) -> list[aws_reap.Tagged]:
    return aws_reap.find(ec2(url), run_id)


def test_up_inventory_resume_down(emulator: str, tmp_path: Path, mirror: tfcli.Source) -> None:
    cfg = config.from_dict({**settings(emulator), "frameworks": ["mlserver", "mlflow"]})
    ctx = Context(cfg, Workspace(tmp_path))
    seen: list[aws_preflight.Report] = []

    def confirm(report: aws_preflight.Report) -> bool:
        seen.append(report)
        return True

    provisioned = env.provision(ctx, "aws", confirm=confirm)
    run_id = run_of(tmp_path)
    report = seen[0]
    assert (report.region, report.zone, report.operator_cidr, report.owner) == (
        "us-east-1",
        "us-east-1a",
        OPERATOR,
        "tester",
    )
    assert report.plan.instances() == {"c6i.xlarge": 1, "c6i.2xlarge": 2}
    assert round(report.estimate.usd_per_hour or 0, 4) == round(
        0.17 + 2 * 0.34 + 3 * 30 * 0.08 / 730 + 0.015, 4
    )

    # The inventory has exactly the local provider's shape, and its facts come from AWS.
    hosts = inventory.load(tmp_path / ".kit" / "hosts.json")
    local = json.loads((DATA / "terraform" / "local_hosts_output.json").read_text())
    saved = json.loads((tmp_path / ".kit" / "hosts.json").read_text())
    assert set(saved) == set(local)
    assert set(saved["client"]) == set(local["client"])
    assert all(set(s) == set(local["servers"]["mlserver"]) for s in saved["servers"].values())
    assert hosts.client.model_dump() | {"public_ip": "", "private_ip": ""} == {
        "name": "client",
        "public_ip": "",
        "private_ip": "",
        "ssh_user": "admin",
        "ssh_port": 22,
        "cpus": 4,
        "memory_mb": 8192,
        "gpu": False,
    }
    assert sorted(hosts.servers) == ["mlflow", "mlserver"]
    for fw, srv in hosts.servers.items():
        assert (srv.name, srv.framework, srv.instance_type, srv.cpus, srv.memory_mb, srv.gpu) == (
            f"srv-{fw}",
            fw,
            "c6i.2xlarge",
            8,
            16384,
            False,
        )
        assert srv.private_ip.startswith("10.79.1.")
    assert provisioned.result.image_alias == "cpu: debian-12-amd64-20250610-2137 (ami-0d3b12a0e5f1c0002)"

    # known_hosts names every host's key, made by the kit and handed to cloud-init.
    known = (tmp_path / ".kit" / "ssh" / "known_hosts").read_text().splitlines()
    assert len(known) == 6 and all(" ssh-ed25519 " in line for line in known)

    client = ec2(emulator)
    instances = [i for r in client.describe_instances()["Reservations"] for i in r["Instances"]]
    assert len(instances) == 3
    for inst in instances:
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        behaviour = client.describe_instance_attribute(
            InstanceId=inst["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
        user_data = client.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="userData")
        text = base64.b64decode(user_data["UserData"]["Value"]).decode()
        assert "kit-deadman.timer" in text and "OnCalendar=" in text and "ed25519_private" in text
    volumes = client.describe_volumes()["Volumes"]
    assert len(volumes) == 3 and all(v["Encrypted"] for v in volumes)

    # Tags on everything the run made, and the whole run found by them.
    found = all_tagged(emulator, run_id)
    assert sorted(r.kind for r in found) == sorted(
        ["instance"] * 3
        + ["volume"] * 3
        + ["security-group"] * 2
        + ["key-pair", "internet-gateway", "subnet", "route-table", "vpc"]
    )
    for r in found:
        assert (
            r.tags["Project"] == "serving-kit" and r.tags["RunId"] == run_id and r.tags["Owner"] == "tester"
        )
        assert r.tags["ExpiresAt"] == report.expires_at

    # The security groups: SSH from the operator only, serving ports from the client's group only.
    groups = {
        g["GroupName"].rsplit("-", 1)[-1]: g["GroupId"]
        for g in client.describe_security_groups(Filters=[{"Name": "tag:RunId", "Values": [run_id]}])[
            "SecurityGroups"
        ]
    }
    rules = client.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": list(groups.values())}]
    )["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    for r in ingress:
        assert all(t in {tag["Key"] for tag in r["Tags"]} for t in TAGS)
    by_group: dict[str, list[tuple[int, str]]] = {}
    for r in ingress:
        source = r.get("CidrIpv4") or r["ReferencedGroupInfo"]["GroupId"]
        by_group.setdefault(r["GroupId"], []).append((r["FromPort"], source))
    assert sorted(by_group[groups["client"]]) == [(22, OPERATOR)]
    assert sorted(by_group[groups["servers"]]) == sorted(
        [(22, OPERATOR)] + [(p, groups["client"]) for p in (5001, 8090, 8091, 8092)]
    )
    assert all(r["FromPort"] == r["ToPort"] and r["IpProtocol"] == "tcp" for r in ingress)

    # Resuming `kit up` keeps the same hosts.
    before = sorted(i["InstanceId"] for i in instances)
    env.provision(ctx, "aws", confirm=confirm)
    after = sorted(
        i["InstanceId"]
        for r in client.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])[
            "Reservations"
        ]
        for i in r["Instances"]
    )
    assert after == before and seen[1].expires_at == report.expires_at

    # `kit down` leaves nothing, and is fine twice.
    result = env.down(ctx, "aws")
    assert result["removed"] == ["terraform resources"]
    assert all_tagged(emulator, run_id) == []
    assert not (tmp_path / ".kit" / "terraform" / "aws" / "terraform.tfstate").exists()
    assert env.down(ctx, "aws")["removed"] == []


def test_gpu_servers(emulator: str, tmp_path: Path, mirror: tfcli.Source) -> None:
    ctx = Context(config.from_dict(settings(emulator)), Workspace(tmp_path))
    seen: list[aws_preflight.Report] = []
    provisioned = env.provision(ctx, "aws", gpu=True, confirm=lambda r: seen.append(r) or True)
    run_id = run_of(tmp_path)
    hosts = provisioned.result.hosts
    srv = hosts.server("mlserver")
    assert (srv.name, srv.instance_type, srv.gpu, srv.ssh_user, srv.cpus, srv.memory_mb) == (
        "gpu-mlserver",
        "g5.xlarge",
        True,
        "ubuntu",
        4,
        16384,
    )
    assert (hosts.client.gpu, hosts.client.ssh_user) == (False, "admin")
    assert provisioned.result.image_alias == (
        "cpu: debian-12-amd64-20250610-2137 (ami-0d3b12a0e5f1c0002), "
        "gpu: Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20250602 (ami-0a1d2e3f4b5c60006)"
    )
    assert dict(seen[0].rows())["1 x g5.xlarge"] == "4 vCPUs, 16384 MiB, 1x NVIDIA A10G"
    # The same environment cannot switch to CPU servers in place.
    with pytest.raises(UsageError) as info:
        env.provision(ctx, "aws", gpu=False, confirm=lambda r: True)
    assert info.value.what == "an environment with GPU servers is up"
    env.down(ctx, "aws")
    assert all_tagged(emulator, run_id) == []


def test_failure_halfway_then_down(emulator: str, tmp_path: Path, mirror: tfcli.Source) -> None:
    """A key pair of the run's name already exists (left by hand): the apply fails after the network
    is created; `kit down` removes what was created and leaves the foreign key pair alone."""
    run_id = "env-20300101-halfway"
    envstate.save(
        envstate.EnvState(env_id=run_id, provider="aws", created_at=envstate.now()),
        tmp_path / ".kit" / "env.json",
    )
    client = ec2(emulator)
    pub = make_keys(tmp_path / "foreign") / "id.pub"
    client.import_key_pair(KeyName=f"serving-kit-{run_id}", PublicKeyMaterial=pub.read_bytes())
    cfg_path = write_config(tmp_path, settings(emulator))

    result = run_kit("--config", str(cfg_path), "up", "--provider", "aws", "--yes")
    assert result.exit_code == 1
    error, hint = error_lines(result)
    assert error.startswith(f"Error: terraform apply failed: importing EC2 Key Pair (serving-kit-{run_id}): ")
    assert error.endswith(f"InvalidKeyPair.Duplicate: The keypair 'serving-kit-{run_id}' already exists.")
    assert hint.startswith("Hint: Nothing is lost: `kit down` removes whatever was created. Full log: ")
    created = {r.kind for r in all_tagged(emulator, run_id)}
    assert "vpc" in created and "instance" not in created

    result = run_kit("--config", str(cfg_path), "down")
    assert result.exit_code == 0, result.stderr
    assert all_tagged(emulator, run_id) == []
    assert [k["KeyName"] for k in client.describe_key_pairs()["KeyPairs"]] == [f"serving-kit-{run_id}"]


def test_lost_state_is_cleaned_by_tags(emulator: str, tmp_path: Path, mirror: tfcli.Source) -> None:
    ctx = Context(config.from_dict(settings(emulator)), Workspace(tmp_path))
    env.provision(ctx, "aws", confirm=None)
    run_id = run_of(tmp_path)
    (tmp_path / ".kit" / "terraform" / "aws" / "terraform.tfstate").unlink()
    removed = env.down(ctx, "aws")["removed"]
    assert "terraform resources" not in removed
    assert sorted(x.split()[0] for x in removed) == sorted(
        ["instance"] * 2
        + ["volume"] * 2  # root volumes: gone with their instances, which counts as deleted
        + ["key-pair", "security-group", "security-group", "internet-gateway", "subnet", "route-table", "vpc"]
    )
    assert all_tagged(emulator, run_id) == []


# --- kit reap -------------------------------------------------------------------------------------


def make_run(client: Any, run_id: str, expires: str, owner: str = "alice") -> dict[str, str]:
    """A run's worth of resources made directly (as if its Terraform state were gone)."""
    tags = [
        {"Key": "Project", "Value": "serving-kit"},
        {"Key": "RunId", "Value": run_id},
        {"Key": "Owner", "Value": owner},
        {"Key": "ExpiresAt", "Value": expires},
    ]

    def spec(kind: str) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": tags}]

    vpc = client.create_vpc(CidrBlock="10.79.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=vpc, CidrBlock="10.79.1.0/24", TagSpecifications=spec("subnet"))[
        "Subnet"
    ]["SubnetId"]
    igw = client.create_internet_gateway(TagSpecifications=spec("internet-gateway"))["InternetGateway"][
        "InternetGatewayId"
    ]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt = client.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"][
        "RouteTableId"
    ]
    client.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    sg_client = client.create_security_group(
        GroupName=f"{run_id}-client", Description="c", VpcId=vpc, TagSpecifications=spec("security-group")
    )["GroupId"]
    sg_servers = client.create_security_group(
        GroupName=f"{run_id}-servers", Description="s", VpcId=vpc, TagSpecifications=spec("security-group")
    )["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=sg_servers,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8090,
                "ToPort": 8090,
                "UserIdGroupPairs": [{"GroupId": sg_client}],
            }
        ],
    )
    client.create_key_pair(KeyName=f"serving-kit-{run_id}", TagSpecifications=spec("key-pair"))
    client.run_instances(
        ImageId="ami-0d3b12a0e5f1c0002",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[sg_servers],
        TagSpecifications=spec("instance") + spec("volume"),
    )
    client.create_volume(AvailabilityZone="us-east-1a", Size=8, TagSpecifications=spec("volume"))
    return {"vpc": vpc, "sg_client": sg_client}


def test_reap_expired_runs_and_a_named_run(emulator: str, tmp_path: Path) -> None:
    client = ec2(emulator)
    make_run(client, "env-20250101-expired", "2025-01-01T04:00:00Z")
    make_run(client, "env-20300101-live", "2030-01-01T04:00:00Z", owner="bob")
    foreign = client.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    cfg_path = write_config(tmp_path, settings(emulator))

    dry = run_kit("--config", str(cfg_path), "reap", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    listed = json.loads(dry.stdout)
    assert listed["runs"] == ["env-20250101-expired"] and listed["deleted"] == []
    assert listed["kept_runs"] == ["env-20300101-live"]
    assert sorted(r["kind"] for r in listed["resources"]) == sorted(
        [
            "instance",
            "key-pair",
            "volume",
            "volume",
            "security-group",
            "security-group",
            "internet-gateway",
            "subnet",
            "route-table",
            "vpc",
        ]
    )
    assert len(all_tagged(emulator, "env-20250101-expired")) == 10  # a dry run deletes nothing

    done = run_kit("--config", str(cfg_path), "reap")
    assert done.exit_code == 0, done.stderr
    assert "Deleted 10 resource(s) of env-20250101-expired" in done.stdout
    assert "Not expired, kept: env-20300101-live" in done.stdout
    assert all_tagged(emulator, "env-20250101-expired") == []
    assert len(all_tagged(emulator, "env-20300101-live")) == 10

    again = run_kit("--config", str(cfg_path), "reap")
    assert (
        again.exit_code == 0 and "Nothing to reap in us-east-1: no resources of expired runs." in again.stdout
    )

    named = run_kit("--config", str(cfg_path), "reap", "--run-id", "env-20300101-live", "--json")
    assert named.exit_code == 0, named.stderr
    assert len(json.loads(named.stdout)["deleted"]) == 10
    assert aws_reap.find(client) == []
    assert [v["VpcId"] for v in client.describe_vpcs(VpcIds=[foreign])["Vpcs"]] == [foreign]


# --- bad input: one Error line, one Hint line --------------------------------------------------------


@pytest.mark.parametrize(
    ("aws", "extra", "code", "error", "hint"),
    [
        (
            {"region": "us-east-9"},
            [],
            2,
            "Error: unknown AWS region 'us-east-9'",
            "Hint: Set [aws] region to one of: ",
        ),
        (
            {"client_instance_type": "c6i.huge"},
            [],
            2,
            "Error: unknown instance type in us-east-1: c6i.huge",
            "Hint: Set [aws] client_instance_type, server_instance_type or gpu_server_instance_type to a type "
            "us-east-1 offers (`aws ec2 describe-instance-type-offerings`)",
        ),
        (
            {"gpu_server_instance_type": "c6i.xlarge"},
            ["--gpu"],
            2,
            "Error: gpu_server_instance_type 'c6i.xlarge' has no GPU",
            "Hint: Set [aws] gpu_server_instance_type to a GPU type such as g5.xlarge or g6.xlarge",
        ),
        (
            {"provider_mirror": "/nonexistent/mirror"},
            [],
            1,
            f"Error: the Terraform plugin mirror /nonexistent/mirror has no hashicorp/aws {tfcli.AWS_PROVIDER_VERSION} "
            f"for {tfcli.platform_dir()}",
            "Hint: Put the provider at /nonexistent/mirror/registry.terraform.io/hashicorp/aws/",
        ),
    ],
)
def test_preflight_rejects(
    emulator: str, tmp_path: Path, aws: dict[str, Any], extra: list[str], code: int, error: str, hint: str
) -> None:
    cfg_path = write_config(tmp_path, settings(emulator, **aws))
    result = run_kit("--config", str(cfg_path), "up", "--provider", "aws", "--yes", *extra)
    assert result.exit_code == code, result.stderr
    got_error, got_hint = error_lines(result)
    assert got_error == error
    assert got_hint.startswith(hint)
    assert aws_reap.find(ec2(emulator)) == []


def test_no_credentials(emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    cfg_path = write_config(tmp_path, settings(emulator))
    result = run_kit("--config", str(cfg_path), "up", "--provider", "aws", "--yes")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: no AWS credentials found (reading the caller identity (sts:GetCallerIdentity))",
        "Hint: Set AWS_PROFILE (after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, then rerun",
    ]


def test_declining_the_estimate_creates_nothing(emulator: str, tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, settings(emulator))
    result = run_kit("--config", str(cfg_path), "up", "--provider", "aws", input="n\n")
    assert result.exit_code == 1
    assert "estimated cost" in result.stdout and "$0.53/hour" in result.stdout
    assert error_lines(result) == [
        "Error: kit up stopped at the cost question: nothing was created",
        "Hint: Rerun and answer y, or pass --yes to accept the estimate",
    ]
    assert aws_reap.find(ec2(emulator)) == []


def test_provider_neither_mirrored_nor_downloadable(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The registry is asked for through a proxy on a closed local port: nothing leaves this machine.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    cfg_path = write_config(tmp_path, settings(emulator, provider_mirror="registry"))
    result = run_kit("--config", str(cfg_path), "up", "--provider", "aws", "--yes")
    assert result.exit_code == 1
    error, hint = error_lines(result)
    assert (
        error
        == f"Error: terraform cannot get the hashicorp/aws {tfcli.AWS_PROVIDER_VERSION} provider from the public registry"
    )
    assert hint.startswith("Hint: Put it in a filesystem mirror and set [aws] provider_mirror")
    assert run_kit("--config", str(cfg_path), "down").exit_code == 0


def test_operator_address_detected_from_a_service() -> None:
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"198.51.100.23\n")

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert aws_preflight.detect_operator_cidr(url) == "198.51.100.23/32"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(KitError) as info:
        aws_preflight.detect_operator_cidr(url, timeout=2)
    assert info.value.what.startswith(f"could not detect your public address from {url}")
    assert (
        info.value.hint
        == 'Set [aws] operator_cidr = "<your public address>/32" (SSH is allowed from there only)'
    )

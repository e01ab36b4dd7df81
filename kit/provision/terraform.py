"""Terraform, driven through python-terraform, confined to this module.

python-terraform (0.10.1, the last release, 2019) is used only to build command lines; it is not
allowed to run them. Its own runner starts processes outside kit/proc.py and swallows failures into
return codes, and its `destroy()` passes `-force`, which Terraform 1.x rejects ("flag provided but
not defined: -force"). So this wrapper builds each command with `generate_cmd_string`, replaces
`-force` by `-auto-approve`, and runs it through kit/proc.py with a timeout and a log.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from kit import proc
from kit.errors import KitError, PrerequisiteError

_RESOURCE = re.compile(r"^\s+with (\S+?),?$")
_SOURCE = re.compile(r"^\s+(on .+:|\d+:.*|[├│└].*)$")


def diagnostic(stderr: str) -> str:
    """One line naming what failed first, from Terraform's wrapped diagnostics.

    Terraform wraps its messages at 78 columns when stderr is not a terminal, so the last line of
    a failed apply is often a fragment such as "directory". This joins the first diagnostic back
    together, names the resource it belongs to, and, for a failed local-exec, keeps the command's
    own error rather than the command line.
    """
    lines = stderr.splitlines()
    # A diagnostic's title follows a blank line; a command's own "Error:" output inside it does not.
    starts = [
        i
        for i, line in enumerate(lines)
        if line.startswith("Error: ") and not "".join(lines[i - 1 : i]).strip()
    ]
    if not starts:
        return ""
    first = starts[0]
    end = starts[1] if len(starts) > 1 else len(lines)
    title = lines[first].removeprefix("Error: ").strip()
    resource = ""
    body: list[str] = []
    for line in lines[first + 1 : end]:
        if m := _RESOURCE.match(line):
            resource = m.group(1)
        elif not _SOURCE.match(line):
            body.append(line.strip())
    text = " ".join(b for b in body if b)
    if "Output:" in text:
        # The command's output follows the command line; its own last "Error:" says what went wrong.
        text = text.rsplit("Output:", 1)[1].rsplit("Error:", 1)[-1].strip()
    detail = f"{title}: {text}" if text else title
    more = f" (and {len(starts) - 1} more error(s) in the log)" if len(starts) > 1 else ""
    return f"{resource}: {detail}{more}" if resource else f"{detail}{more}"


class TerraformRoot:
    """One Terraform root module with its state and data folders kept outside the repository."""

    def __init__(
        self,
        module_dir: Path,
        state_dir: Path,
        log: Path,
        *,
        cli_config: Path | None = None,
        binary: str = "terraform",
    ) -> None:
        self.module_dir = module_dir
        self.state_dir = state_dir
        self.log = log
        self.binary = binary
        self.cli_config = cli_config
        self._tf = Terraform(working_dir=str(module_dir), terraform_bin_path=binary)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "terraform.tfstate"

    def _env(self) -> dict[str, str]:
        # TF_DATA_DIR keeps .terraform/ out of the repository; an explicit CLI config replaces the
        # (possibly missing) file the environment points at, whose absence makes terraform warn.
        env = {"TF_DATA_DIR": str(self.state_dir / ".terraform"), "TF_IN_AUTOMATION": "1"}
        env["TF_CLI_CONFIG_FILE"] = str(self.cli_config) if self.cli_config else "/dev/null"
        return env

    def _run(
        self,
        args: list[str],
        *,
        timeout: float,
        what: str,
        hint: str | None = None,
        on_line: Callable[[str], None] | None = None,
        check: bool = True,
    ) -> proc.Result:
        if shutil.which(self.binary) is None:
            raise PrerequisiteError(
                "terraform is not installed",
                "Install Terraform 1.5 or newer (https://developer.hashicorp.com/terraform/install) and "
                "rerun; `kit doctor` checks every prerequisite",
            )
        try:
            return proc.run(
                args,
                timeout=timeout,
                log=self.log,
                cwd=self.module_dir,
                env=self._env(),
                what=what,
                hint=hint,
                on_line=on_line,
                check=check,
                explain=diagnostic,
            )
        finally:
            self._tf.temp_var_files.clean_up()

    def command(self, name: str, *args: str, **options: Any) -> list[str]:
        """The command line python-terraform builds, with its pre-1.0 flags corrected."""
        cmd = self._tf.generate_cmd_string(name, *args, **options)
        return ["-auto-approve" if c == "-force" else c for c in cmd]

    def init(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command(
            "init",
            backend_config={"path": str(self.state_file)},
            reconfigure=IsFlagged,
            input=False,
            no_color=IsFlagged,
        )
        self._run(cmd, timeout=300, what="terraform init")

    def apply(
        self,
        variables: Mapping[str, Any],
        *,
        timeout: float = 1800,
        replace: list[str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        cmd = self.command(
            "apply",
            var=dict(variables),
            replace=list(replace or []),
            auto_approve=IsFlagged,
            input=False,
            no_color=IsFlagged,
        )
        self._run(
            cmd,
            timeout=timeout,
            what="terraform apply",
            on_line=on_line,
            hint=f"Nothing is lost: `kit down` removes whatever was created. Full log: {self.log}",
        )

    def destroy(
        self,
        variables: Mapping[str, Any],
        *,
        timeout: float = 1800,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        cmd = self.command("destroy", var=dict(variables), force=IsFlagged, input=False, no_color=IsFlagged)
        self._run(
            cmd,
            timeout=timeout,
            what="terraform destroy",
            on_line=on_line,
            hint=f"Rerun `kit down`; it also removes hosts by tag. Full log: {self.log}",
        )

    def output(self, name: str) -> Any:
        cmd = self.command("output", name, json=IsFlagged, no_color=IsFlagged, input=IsNotFlagged)
        res = self._run(cmd, timeout=120, what=f"terraform output {name}", check=False)
        if res.returncode != 0:
            raise KitError(
                f"Terraform has no output '{name}' (no environment is up?)",
                "Run `kit up` first, or `kit status` to see what exists",
            )
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError as exc:
            raise KitError(f"terraform output {name} is not JSON", f"See the log {self.log}") from exc

    def resources(self) -> list[str]:
        """Addresses in the state (empty when there is no state): what destroy would remove."""
        if not self.state_file.exists():
            return []
        res = self._run(
            self.command("state list", no_color=IsNotFlagged, input=IsNotFlagged),
            timeout=120,
            what="terraform state list",
            check=False,
        )
        return [line for line in res.stdout.splitlines() if line.strip()] if res.returncode == 0 else []

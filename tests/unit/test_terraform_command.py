from pathlib import Path

from python_terraform import IsFlagged

from kit.provision.terraform import TerraformRoot


def test_destroy_uses_auto_approve_not_force(tmp_path: Path) -> None:
    tf = TerraformRoot(tmp_path, tmp_path / "state", tmp_path / "tf.log")
    cmd = tf.command("destroy", force=IsFlagged, input=False, no_color=IsFlagged)
    assert cmd == ["terraform", "destroy", "-auto-approve", "-input=false", "-no-color"]


def test_variables_go_through_a_json_var_file(tmp_path: Path) -> None:
    tf = TerraformRoot(tmp_path, tmp_path / "state", tmp_path / "tf.log")
    cmd = tf.command("apply", var={"servers": {"mlserver": {"cpus": 1}}}, auto_approve=IsFlagged)
    var_file = next(c for c in cmd if c.startswith("-var-file="))
    assert Path(var_file.split("=", 1)[1]).read_text() == '{"servers": {"mlserver": {"cpus": 1}}}'
    tf._tf.temp_var_files.clean_up()

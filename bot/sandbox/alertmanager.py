"""Run Debian's real `prometheus-alertmanager` for the sandbox: Prometheus sends it what fires, and its webhook
receiver posts to the bot's ``POST /alerts/alertmanager`` with the bot's token.

The sandbox groups per service and waits 1 s before the first notification (``GROUP_WAIT``), so a test sees the
chain in seconds; the production example (deploy/alertmanager/alertmanager.yml) keeps Alertmanager's usual
30 s. Until ``send_to`` names the bot, notifications go nowhere (the World starts before the bot has a port).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from bot.sandbox.process import LoopbackProcess, ProcessError

GROUP_WAIT = "1s"
GROUP_INTERVAL = "1s"  # a new alert in a group goes out within a second too
REPEAT_INTERVAL = "1h"


class AlertmanagerError(ProcessError):
    pass


class AlertmanagerProcess(LoopbackProcess):
    name = "alertmanager"
    package = "prometheus-alertmanager"
    error = AlertmanagerError

    def __init__(self, port: int = 0, binary: str | None = None, start_timeout: float = 30.0) -> None:
        found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        super().__init__(binary or found or "/usr/bin/prometheus-alertmanager", port, start_timeout)
        self.webhook_url: str | None = None
        self.token: str | None = None

    def config(self) -> dict:
        receiver: dict = {"name": "rollback-bot"}
        if self.webhook_url:
            receiver["webhook_configs"] = [
                {
                    "url": self.webhook_url,
                    "send_resolved": True,
                    "http_config": {"authorization": {"type": "Bearer", "credentials": self.token or ""}},
                }
            ]
        return {
            "route": {
                "receiver": "rollback-bot",
                "group_by": ["service"],
                "group_wait": GROUP_WAIT,
                "group_interval": GROUP_INTERVAL,
                "repeat_interval": REPEAT_INTERVAL,
            },
            "receivers": [receiver],
        }

    def arguments(self, directory: Path) -> list[str]:
        self._write_config(directory)
        return [
            f"--config.file={directory / 'alertmanager.yml'}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip port: one instance, nothing else bound
            "--log.level=warn",
        ]

    def _write_config(self, directory: Path) -> None:
        (directory / "alertmanager.yml").write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def ready(self) -> bool:
        return self.get("/-/ready")[0] == 200

    def send_to(self, webhook_url: str, token: str) -> None:
        """Point the webhook receiver at the bot and reload the configuration."""
        self.webhook_url, self.token = webhook_url, token
        self._write_config(self.directory)
        status, body = self.request("/-/reload", data=b"")
        if status != 200:
            raise AlertmanagerError(f"alertmanager refused its new configuration ({status}): {body[:300]!r}")

    def alerts(self) -> list[dict]:
        """The alerts Alertmanager holds now (API v2)."""
        status, body = self.get("/api/v2/alerts")
        return json.loads(body) if status == 200 else []

"""Run Debian's real `prometheus` against the service simulators.

The bot reads its signals through the real Prometheus HTTP API, so the sandbox
runs the real server: a temp config scraping every target each second, a temp
TSDB, a free loopback port. ``start()`` returns only once every target has been
scraped, so the first query already sees data (about 5 s: Prometheus 2.42 sends
discovered targets to the scrape manager every 5 s, and no flag shortens that).
Given ``rules`` (a rules file's text) and ``alertmanager`` (its URL), it evaluates
the rules every scrape interval and sends what fires there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import yaml

from bot.sandbox.process import LoopbackProcess, ProcessError

START_TIMEOUT = 60.0  # a healthy start takes ~6 s (the first scrape); more only when the machine stalls


class PrometheusError(ProcessError):
    pass


class PrometheusProcess(LoopbackProcess):
    """Prometheus scraping ``targets`` (job/service name -> "127.0.0.1:port")."""

    name = "prometheus"
    package = "prometheus"
    error = PrometheusError

    def __init__(
        self,
        targets: dict[str, str],
        port: int = 0,
        binary: str | None = None,
        scrape_interval: str = "1s",
        start_timeout: float = START_TIMEOUT,
        rules: str | None = None,
        alertmanager: str | None = None,
    ) -> None:
        super().__init__(binary or shutil.which("prometheus") or "/usr/bin/prometheus", port, start_timeout)
        self.targets = dict(targets)
        self.scrape_interval = scrape_interval
        self.rules = rules
        self.alertmanager = alertmanager
        self._targets_seen: dict[str, str] = {}  # scrape pool -> "up" / "down <last error>", for the start error

    def config(self) -> dict:
        """Scrape each target as its own job; honor_labels keeps the simulator's service/namespace labels."""
        config: dict = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [
                {
                    "job_name": name,
                    "honor_labels": True,
                    "scrape_timeout": self.scrape_interval,
                    "static_configs": [{"targets": [address], "labels": {"service": name}}],
                }
                for name, address in self.targets.items()
            ],
        }
        if self.rules is not None:
            config["rule_files"] = ["rules.yml"]
        if self.alertmanager:
            target = urlparse(self.alertmanager).netloc
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
        return config

    def arguments(self, directory: Path) -> list[str]:
        config = directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        if self.rules is not None:
            (directory / "rules.yml").write_text(self.rules)
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]

    def ready(self) -> bool:
        return self.get("/-/ready")[0] == 200 and self._all_targets_up()

    def not_ready(self) -> str:
        return (
            f"prometheus on {self.url} did not scrape all of {sorted(self.targets)} within "
            f"{self.start_timeout:g} s (targets: {self._targets_seen or 'never listed'})"
        )

    def _all_targets_up(self) -> bool:
        status, body = self.get("/api/v1/targets?state=active")
        if status != 200:
            return False
        active = json.loads(body)["data"]["activeTargets"]
        self._targets_seen = {t["scrapePool"]: f"{t.get('health')} {t.get('lastError') or ''}".strip() for t in active}
        up = {t["scrapePool"] for t in active if t.get("health") == "up"}
        return up >= set(self.targets)

    def alerts(self) -> list[dict]:
        """The alerts Prometheus holds now (pending and firing)."""
        status, body = self.get("/api/v1/alerts")
        return json.loads(body)["data"]["alerts"] if status == 200 else []

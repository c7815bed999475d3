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

import base64
import json
import shutil
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import yaml

from bot.sandbox.process import LoopbackProcess, ProcessError

START_TIMEOUT = 60.0  # a healthy start takes ~6 s (the first scrape); more only when the machine stalls


class PrometheusError(ProcessError):
    pass


BOT_JOB = "rollback-bot"  # the bot's own /metrics, its targets added once it listens (``scrape_bot``)


class PrometheusProcess(LoopbackProcess):
    """Prometheus scraping ``targets`` (job/service name -> "127.0.0.1:port"), and the bot once it is told where.

    ``web_config``: Prometheus' ``--web.config.file`` (TLS, basic auth), for the tests of the bot's auth; the
    process's own probes then log in with ``probe_auth`` (user, password) and trust ``probe_ca``.
    """

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
        web_config: dict | None = None,
        probe_auth: tuple[str, str] | None = None,
        probe_ca: str | None = None,
    ) -> None:
        super().__init__(binary or shutil.which("prometheus") or "/usr/bin/prometheus", port, start_timeout)
        self.targets = dict(targets)
        self.scrape_interval = scrape_interval
        self.rules = rules
        self.alertmanager = alertmanager
        self.web_config = web_config
        self._probe_auth, self._probe_ca = probe_auth, probe_ca
        self._targets_seen: dict[str, str] = {}  # scrape pool -> "up" / "down <last error>", for the start error

    @property
    def url(self) -> str:
        tls = bool((self.web_config or {}).get("tls_server_config"))
        return f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def scrape_bot(self, addresses: list[str]) -> None:
        """Scrape the bot's ``/metrics`` at these "host:port"s too (file discovery: read within seconds)."""
        if self._dir is None:  # stopped (the world is closing): nothing scrapes anything
            return
        bot_targets = self._dir / "bot-targets.json"
        bot_targets.with_suffix(".tmp").write_text(json.dumps([{"targets": addresses}]))
        bot_targets.with_suffix(".tmp").replace(bot_targets)  # whole, never half written

    def config(self, directory: Path) -> dict:
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
            ]
            + [
                {
                    "job_name": BOT_JOB,
                    "scrape_timeout": self.scrape_interval,
                    "file_sd_configs": [{"files": [str(directory / "bot-targets.json")], "refresh_interval": "1s"}],
                }
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
        config.write_text(yaml.safe_dump(self.config(directory), sort_keys=False))
        (directory / "bot-targets.json").write_text("[]")  # no bot yet: scrape_bot adds it
        if self.rules is not None:
            (directory / "rules.yml").write_text(self.rules)
        web = []
        if self.web_config is not None:
            (directory / "web.yml").write_text(yaml.safe_dump(self.web_config, sort_keys=False))
            web = [f"--web.config.file={directory / 'web.yml'}"]
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
            *web,
        ]

    def request(self, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        """As the base, logged in with ``probe_auth`` and trusting ``probe_ca`` when the web config asks."""
        request = urllib.request.Request(self.url + path, data=data)
        if self._probe_auth:
            token = base64.b64encode(":".join(self._probe_auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=self._probe_ca) if self._probe_ca else None
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

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

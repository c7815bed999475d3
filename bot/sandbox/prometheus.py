"""Run Debian's real `prometheus` against the service simulators.

The bot reads its signals through the real Prometheus HTTP API, so the sandbox
runs the real server: a temp config scraping every target each second, a temp
TSDB, a free loopback port. ``start()`` returns only once every target has been
scraped, so the first query already sees data (about 5 s: Prometheus 2.42 sends
discovered targets to the scrape manager every 5 s, and no flag shortens that).
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from bot.sandbox.httpserver import free_port, scratch_dir

START_TIMEOUT = 60.0  # a healthy start takes ~6 s (the first scrape); more only when the machine stalls


class PrometheusError(RuntimeError):
    pass

log = logging.getLogger(__name__)


BOT_JOB = "rollback-bot"  # the bot's own /metrics, its targets added once it listens (``scrape_bot``)


class PrometheusProcess:
    """Prometheus scraping ``targets`` (job/service name -> "127.0.0.1:port"), and the bot once it is told where.

    ``web_config``: Prometheus' ``--web.config.file`` (TLS, basic auth), for the tests of the bot's auth; the
    process's own probes then log in with ``probe_auth`` (user, password) and trust ``probe_ca``.
    """

    def __init__(
        self,
        targets: dict[str, str],
        port: int = 0,
        binary: str | None = None,
        scrape_interval: str = "1s",
        start_timeout: float = START_TIMEOUT,
        web_config: dict | None = None,
        probe_auth: tuple[str, str] | None = None,
        probe_ca: str | None = None,
    ) -> None:
        self.targets = dict(targets)
        self.port = port or free_port()
        self._chosen_port = not port  # a port we picked may be taken by another process before Prometheus binds it
        self.binary = binary or shutil.which("prometheus") or "/usr/bin/prometheus"
        self.scrape_interval = scrape_interval
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._targets_seen: dict[str, str] = {}  # scrape pool -> "up" / "down <last error>", for the start error
        self._proc: subprocess.Popen | None = None
        self._log = None
        self.web_config = web_config
        self._probe_auth, self._probe_ca = probe_auth, probe_ca

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

    def config(self) -> dict:
        """Scrape each target as its own job; honor_labels keeps the simulator's service/namespace labels."""
        return {
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
                    "file_sd_configs": [{"files": [str(self._dir / "bot-targets.json")], "refresh_interval": "1s"}],
                }
            ],
        }

    def start(self, attempts: int = 3) -> PrometheusProcess:
        """Start and wait until every target is scraped; a port we picked that was taken meanwhile (parallel test
        workers bind ports too) is picked again."""
        if not Path(self.binary).exists():
            raise PrometheusError(f"prometheus binary not found ({self.binary}); apt-get install prometheus")
        for _ in range(attempts - 1):
            try:
                return self._start_once()
            except PrometheusError as exc:
                if not (self._chosen_port and "address already in use" in str(exc)):
                    raise
                log.warning("port %d was taken before Prometheus bound it; picking another", self.port)
                self.port = free_port()
        return self._start_once()

    def _start_once(self) -> PrometheusProcess:
        self._dir = Path(scratch_dir("sandbox-prometheus-"))
        config = self._dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        (self._dir / "bot-targets.json").write_text("[]")  # no bot yet: scrape_bot adds it
        web = []
        if self.web_config is not None:
            (self._dir / "web.yml").write_text(yaml.safe_dump(self.web_config, sort_keys=False))
            web = [f"--web.config.file={self._dir / 'web.yml'}"]
        self._log = open(self._dir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
                *web,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _get(self, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path)
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

    def _all_targets_up(self) -> bool:
        status, body = self._get("/api/v1/targets?state=active")
        if status != 200:
            return False
        active = json.loads(body)["data"]["activeTargets"]
        self._targets_seen = {t["scrapePool"]: f"{t.get('health')} {t.get('lastError') or ''}".strip() for t in active}
        up = {t["scrapePool"] for t in active if t.get("health") == "up"}
        return up >= set(self.targets)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                raise PrometheusError(f"prometheus exited with code {code}:\n{self.log_tail()}")
            if self._get("/-/ready")[0] == 200 and self._all_targets_up():
                return
            time.sleep(0.1)
        raise PrometheusError(
            f"prometheus on {self.url} did not scrape all of {sorted(self.targets)} within "
            f"{self.start_timeout:g} s (targets: {self._targets_seen or 'never listed'}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        if not self._dir or not (self._dir / "prometheus.log").exists():
            return "(no log)"
        return "\n".join((self._dir / "prometheus.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._log:
            self._log.close()
            self._log = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> PrometheusProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

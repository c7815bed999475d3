"""The bot's settings, from the environment, checked at start (every problem listed at once)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config.archive import ArchiveSettings
from bot.config.names import DURATION

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class ConfigError(Exception):
    """Invalid settings or catalog; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


_REQUIRED_ENV = {
    "SLACK_BOT_TOKEN": "the bot token (xoxb-...) used to call the Slack Web API",
    "SLACK_SIGNING_SECRET": "the signing secret used to verify that requests come from Slack",
}
MIN_FINGERPRINT_KEY = 32  # characters: a short key would let a copy of the database be brute-forced


@dataclass(frozen=True)
class PrometheusAuth:
    """How the bot proves itself to ``PROMETHEUS_URL`` (Grafana Cloud: basic auth; a proxy: a bearer token)."""

    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # a PEM bundle that signed the server's certificate (unset: the system's CAs)

    @classmethod
    def from_env(cls, get, errors: list[str]) -> PrometheusAuth:
        auth = cls(
            bearer_token=get("PROMETHEUS_BEARER_TOKEN"),
            username=get("PROMETHEUS_USERNAME"),
            password=get("PROMETHEUS_PASSWORD"),
            ca_file=get("PROMETHEUS_CA_FILE"),
        )
        if auth.bearer_token and (auth.username or auth.password):
            errors.append("PROMETHEUS_BEARER_TOKEN and PROMETHEUS_USERNAME/PASSWORD: set one way to log in, not both")
        if bool(auth.username) != bool(auth.password):
            errors.append("PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD: basic auth needs both")
        if auth.ca_file and not os.path.isfile(auth.ca_file):
            errors.append(f"PROMETHEUS_CA_FILE: no such file {auth.ca_file!r}")
        return auth


@dataclass(frozen=True)
class StatusPageSettings:
    """The Atlassian Statuspage page the catalog's ``status_page: {component}`` entries are on (unset: none)."""

    url: str = "https://api.statuspage.io/v1"
    page_id: str | None = None
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, get) -> StatusPageSettings:
        return cls(get("STATUSPAGE_URL") or cls.url, get("STATUSPAGE_PAGE_ID"), get("STATUSPAGE_API_KEY"))


LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = field(repr=False)
    slack_signing_secret: str = field(repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_app_token: str | None = field(default=None, repr=False)  # set: Socket Mode
    database_url: str = field(default="sqlite:///rollback-bot.db", repr=False)  # may hold a password
    kubeconfig: str | None = None
    prometheus_url: str | None = None
    prometheus_scrape_interval: str = "15s"  # how often Prometheus scrapes the services (analysis windows)
    catalog_path: str = "config/services.yaml"
    port: int = 3000
    postmortem_dir: str = "postmortems"
    rollback_deadline_seconds: int = 600
    config_fingerprint_key: str | None = field(default=None, repr=False)  # unset: Secrets are not tracked
    alertmanager_token: str | None = field(default=None, repr=False)  # unset: POST /alerts/alertmanager answers 401
    alertmanager_username: str = "alertmanager"  # basic auth's user name (the token is its password)
    alertmanager_service_label: str = "service"  # the alert label naming the catalog service
    pagerduty_routing_key: str | None = field(default=None, repr=False)  # set: a page is a PagerDuty trigger too
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"  # the Events API v2 (the sandbox's emulator)
    deploy_watch_seconds: int = 30  # how often the watch after a deploy reads histories and checks the triggers
    prometheus_auth: PrometheusAuth = field(default_factory=PrometheusAuth)
    archive: ArchiveSettings | None = None  # ARCHIVE_BUCKET...: resolved incidents archived to S3
    log_format: str = "text"  # json: one JSON object per line
    migrate_on_start: bool = False  # serve/worker migrate the schema themselves (dev, the sandbox); else check it
    metrics_port: int = 9464  # the worker's own /metrics, /healthz and /readyz
    status_page: StatusPageSettings = field(default_factory=StatusPageSettings)

    def secrets(self) -> tuple[str | None, ...]:
        """Every secret value in the settings: masked in every log line (``bot.redact.remember``)."""
        auth = self.prometheus_auth
        return (
            self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.database_url,
            self.config_fingerprint_key, self.alertmanager_token, auth.bearer_token, auth.password,
            self.pagerduty_routing_key,
            self.status_page.api_key,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings; an empty variable counts as unset."""

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        errors = [f"{name} is not set: {why}" for name, why in _REQUIRED_ENV.items() if not get(name)]

        def positive_int(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            if not raw.isdigit() or int(raw) <= 0:
                errors.append(f"{name}: expected a positive whole number, got {raw!r}")
                return default
            return int(raw)

        port = positive_int("PORT", 3000)
        deadline = positive_int("ROLLBACK_DEADLINE_SECONDS", 600)
        watch_every = positive_int("DEPLOY_WATCH_SECONDS", cls.deploy_watch_seconds)
        scrape = get("PROMETHEUS_SCRAPE_INTERVAL") or cls.prometheus_scrape_interval
        if not DURATION.fullmatch(scrape):
            errors.append(f"PROMETHEUS_SCRAPE_INTERVAL: expected a duration such as 15s, got {scrape!r}")
        app_token = get("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            errors.append("SLACK_APP_TOKEN: expected an app-level token (xapp-..., with the connections:write scope) "
                          "for Socket Mode; the bot token (xoxb-) cannot open it. Unset it to serve HTTP")
        fingerprint_key = get("CONFIG_FINGERPRINT_KEY")
        if fingerprint_key is not None and len(fingerprint_key) < MIN_FINGERPRINT_KEY:
            errors.append(
                f"CONFIG_FINGERPRINT_KEY: expected at least {MIN_FINGERPRINT_KEY} characters of random text "
                f"(`openssl rand -hex 32`), got {len(fingerprint_key)}"
            )
        prometheus_auth, archive = PrometheusAuth.from_env(get, errors), ArchiveSettings.from_env(get, errors)
        metrics_port = positive_int("METRICS_PORT", 9464)
        alerting = _alertmanager(get, errors)
        log_format = _log_format(get, errors)
        if errors:
            raise ConfigError(errors)
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN") or "",
            slack_signing_secret=get("SLACK_SIGNING_SECRET") or "",
            slack_api_url=get("SLACK_API_URL") or cls.slack_api_url,
            slack_app_token=app_token,
            database_url=get("DATABASE_URL") or cls.database_url,
            kubeconfig=get("KUBECONFIG"),
            prometheus_url=get("PROMETHEUS_URL"),
            prometheus_scrape_interval=scrape,
            catalog_path=get("ROLLBACK_BOT_CONFIG") or cls.catalog_path,
            port=port,
            postmortem_dir=get("POSTMORTEM_DIR") or cls.postmortem_dir,
            rollback_deadline_seconds=deadline,
            config_fingerprint_key=fingerprint_key,
            **alerting,
            deploy_watch_seconds=watch_every,
            prometheus_auth=prometheus_auth, archive=archive, log_format=log_format,
            migrate_on_start=(get("MIGRATE_ON_START") or "").lower() in ("1", "true", "yes"),
            metrics_port=metrics_port,
            status_page=StatusPageSettings.from_env(get),
        )


def _alertmanager(get, errors: list[str]) -> dict[str, str | None]:
    """The webhook's settings: ``POST /alerts/alertmanager``'s credentials and the label naming the service; and
    PagerDuty's (the pages' Events API)."""
    label = get("ALERTMANAGER_SERVICE_LABEL") or Settings.alertmanager_service_label
    if not LABEL_NAME.fullmatch(label):
        errors.append(f"ALERTMANAGER_SERVICE_LABEL: expected a label name such as service, got {label!r}")
    return {
        "alertmanager_token": get("ALERTMANAGER_TOKEN"),
        "alertmanager_username": get("ALERTMANAGER_USERNAME") or Settings.alertmanager_username,
        "alertmanager_service_label": label,
        "pagerduty_routing_key": get("PAGERDUTY_ROUTING_KEY"),
        "pagerduty_url": get("PAGERDUTY_URL") or Settings.pagerduty_url,
    }


def _log_format(get, errors: list[str]) -> str:
    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        errors.append(f"LOG_FORMAT: expected text or json, got {log_format!r}")
    return log_format

"""Settings from the environment and the services catalog (YAML), validated at start.

A typo in the catalog must stop the bot at start with a message naming the file, the
line and the field, not surface mid-incident as a silently defaulted threshold. So the
catalog is read from yaml's node tree (which keeps line numbers), every error is
collected, and unknown keys are errors.
"""

from __future__ import annotations

import enum
import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from bot.strategies.options import AFTER_CANARY, AFTER_SWITCH, BackupJob, BlueGreen, Canary, ConfigRollback

SIGNALS = ("error_rate", "http_5xx_rate", "success_rate", "latency_p95", "memory", "restarts")
# The one list of rollback strategies the bot can run; the runtime builds one per name here.
STRATEGIES = ("kubernetes", "statefulset", "blue-green", "canary", "config")
# Designed (docs/ARCHITECTURE.md) but not built: the catalog refuses them rather than fail mid-incident.
PLANNED_STRATEGIES = ("aws-ecs",)
STRATEGY_BLOCKS = {"blue-green": "blue_green", "canary": "canary", "config": "config"}  # the block each one needs
ANYONE = "*"


class ConfigError(Exception):
    """Invalid settings or catalog; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------- settings

_REQUIRED_ENV = {
    "SLACK_BOT_TOKEN": "the bot token (xoxb-...) used to call the Slack Web API",
    "SLACK_SIGNING_SECRET": "the signing secret used to verify that requests come from Slack",
}
MIN_FINGERPRINT_KEY = 32  # characters: a short key would let a copy of the database be brute-forced


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
    aws_endpoint_url: str | None = None  # moto in the sandbox
    postmortem_dir: str = "postmortems"
    rollback_deadline_seconds: int = 600
    config_fingerprint_key: str | None = field(default=None, repr=False)  # unset: Secrets are not tracked

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
        scrape = get("PROMETHEUS_SCRAPE_INTERVAL") or cls.prometheus_scrape_interval
        if not _DURATION.fullmatch(scrape):
            errors.append(f"PROMETHEUS_SCRAPE_INTERVAL: expected a duration such as 15s, got {scrape!r}")
        fingerprint_key = get("CONFIG_FINGERPRINT_KEY")
        if fingerprint_key is not None and len(fingerprint_key) < MIN_FINGERPRINT_KEY:
            errors.append(
                f"CONFIG_FINGERPRINT_KEY: expected at least {MIN_FINGERPRINT_KEY} characters of random text "
                f"(`openssl rand -hex 32`), got {len(fingerprint_key)}"
            )
        if errors:
            raise ConfigError(errors)
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN") or "",
            slack_signing_secret=get("SLACK_SIGNING_SECRET") or "",
            slack_api_url=get("SLACK_API_URL") or cls.slack_api_url,
            slack_app_token=get("SLACK_APP_TOKEN"),
            database_url=get("DATABASE_URL") or cls.database_url,
            kubeconfig=get("KUBECONFIG"),
            prometheus_url=get("PROMETHEUS_URL"),
            prometheus_scrape_interval=scrape,
            catalog_path=get("ROLLBACK_BOT_CONFIG") or cls.catalog_path,
            port=port,
            aws_endpoint_url=get("AWS_ENDPOINT_URL"),
            postmortem_dir=get("POSTMORTEM_DIR") or cls.postmortem_dir,
            rollback_deadline_seconds=deadline,
            config_fingerprint_key=fingerprint_key,
        )


# ----------------------------------------------------------------------------- names

_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_USER_ID = re.compile(r"[UW][A-Z0-9_]{2,}")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{2,}")
_DURATION = re.compile(r"([1-9][0-9]*)([smhd])")


_SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """``"15s"`` -> 15, ``"1m"`` -> 60 (the catalog's duration syntax)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a duration such as 15s or 1m: {text!r}")
    return int(match.group(1)) * _SECONDS_PER[match.group(2)]


def valid_k8s_name(s: object) -> bool:
    """An RFC 1123 DNS label: safe as a Kubernetes name, a PromQL label value and a channel suffix."""
    return isinstance(s, str) and len(s) <= 63 and _K8S_NAME.fullmatch(s) is not None


def promql_string(value: str) -> str:
    """A double-quoted PromQL string literal holding ``value`` verbatim (no injection)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


# ----------------------------------------------------------------- thresholds, queries


@dataclass(frozen=True)
class Thresholds:
    """Automatic triggers (value + how long it must hold) and the severity rule limits."""

    error_rate: float = 0.05  # ratio of 4xx+5xx, above this ...
    error_rate_for: str = "5m"  # ... for this long
    success_rate: float = 0.95  # ratio of non-5xx, below this
    success_rate_for: str = "10m"
    latency_p95: float = 1.0  # seconds, above this
    latency_p95_for: str = "15m"
    memory: float = 0.90  # working set / limit, above this
    memory_for: str = "20m"
    restarts: int = 5  # container restarts, more than this ...
    restarts_window: str = "10m"  # ... within this window
    http_5xx_rate: float = 0.05  # verification after a rollback: a 5xx share above this fails a check
    http_5xx_critical: float = 0.50  # Critical: 5xx share above this
    http_5xx_high: float = 0.25  # High: "main API failing"
    latency_high: float = 5.0  # High: p95 seconds above this
    error_rate_medium: float = 0.10  # Medium: partial failure


@dataclass(frozen=True)
class Analysis:
    """Verification after a rollback: a check every ``interval`` for ``bake``; ``failure_limit`` bad checks fail it."""

    interval: str = "15s"
    bake: str = "1m"
    failure_limit: int = 2

    @property
    def interval_seconds(self) -> int:
        return duration_seconds(self.interval)

    @property
    def bake_seconds(self) -> int:
        return duration_seconds(self.bake)

    @property
    def checks(self) -> int:
        """How many passed checks make a bake: one per interval."""
        return max(1, -(-self.bake_seconds // self.interval_seconds))


def default_queries(restarts_window: str = "10m") -> dict[str, str]:
    """PromQL templates per signal over the metrics the services expose (docs/ARCHITECTURE.md).

    ``$selector`` picks the service's series and ``$window`` is the rate window, filled in
    per read (``ServiceConfig.query``): the service's ``window`` for a live read, the time
    since the rollout completed for verification. ``restarts`` counts over the restart
    trigger's own window. Values are ratios 0..1, seconds, or a count.
    """
    requests = "sum(rate(http_requests_total{$selector}[$window]))"

    def share(codes: str) -> str:
        return f"sum(rate(http_requests_total{{$selector,code=~{promql_string(codes)}}}[$window])) / {requests}"

    return {
        "error_rate": share("[45].."),
        "http_5xx_rate": share("5.."),
        "success_rate": f'sum(rate(http_requests_total{{$selector,code!~"5.."}}[$window])) / {requests}',
        "latency_p95": (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))"
        ),
        "memory": (
            "max(max by (pod) (container_memory_working_set_bytes{$selector})"
            " / max by (pod) (container_spec_memory_limit_bytes{$selector}))"
        ),
        "restarts": f"sum(increase(kube_pod_container_status_restarts_total{{$selector}}[{restarts_window}]))",
    }


# -------------------------------------------------------------------------- permissions


class Kind(enum.StrEnum):
    """Who an action is open to: the catalog's ``rollback_allowed``, its ``responders``, or anyone."""

    ROLLBACK = "rollback"  # changes what runs in production
    RESPOND = "respond"  # works the incident without changing production
    READ = "read"  # sees what runs (images, change-causes, ConfigMap values): the responders, never the declarer
    ANYONE = "anyone"  # anyone in the workspace


class Action(enum.StrEnum):
    """Every action a person can take on an incident, each of one ``Kind``."""

    DECLARE = "declare"
    ROLL_BACK = "roll_back"
    CHOOSE_REVISION = "choose_revision"
    CONFIRM = "confirm"
    APPROVE = "approve"
    CANCEL = "cancel"
    SCALE_TO_ZERO = "scale_to_zero"
    STEER = "steer"  # hold, resume or go to 0 % during a canary step-down
    DELETE_RELEASE = "delete_release"  # delete the bad blue-green colour (a second person)
    RESUME_SYNC = "resume_sync"  # turn GitOps sync back on after a rollback suspended it
    FORWARD_FIX = "forward_fix"
    DISMISS = "dismiss"
    STATUS_UPDATE = "status_update"
    RESOLVE = "resolve"
    PAGE_ESCALATION = "page_escalation"
    NOTE = "note"
    READ_HISTORY = "read_history"  # /rollback history <service>
    READ_CONFIG = "read_config"  # /rollback config <service>

    @property
    def kind(self) -> Kind:
        return next(kind for kind, actions in ACTIONS_BY_KIND.items() if self in actions)


# The whole rule; README.md ("Who may do what") shows it as a table.
ACTIONS_BY_KIND: dict[Kind, tuple[Action, ...]] = {
    Kind.ANYONE: (Action.DECLARE,),
    Kind.ROLLBACK: (
        Action.ROLL_BACK,
        Action.CHOOSE_REVISION,
        Action.CONFIRM,
        Action.APPROVE,
        Action.CANCEL,
        Action.SCALE_TO_ZERO,
        Action.STEER,
        Action.DELETE_RELEASE,
        Action.RESUME_SYNC,
    ),
    Kind.RESPOND: (
        Action.FORWARD_FIX,
        Action.DISMISS,
        Action.STATUS_UPDATE,
        Action.RESOLVE,
        Action.PAGE_ESCALATION,
        Action.NOTE,
    ),
    Kind.READ: (Action.READ_HISTORY, Action.READ_CONFIG),
}


# ------------------------------------------------------------------------------ catalog


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    namespace: str
    deployment: str = ""  # "" -> the service name
    container: str | None = None  # None -> the first container
    strategy: str = "kubernetes"
    health_url: str | None = None
    owners: tuple[str, ...] = ()
    rollback_allowed: tuple[str, ...] = (ANYONE,)
    responders: tuple[str, ...] | None = None  # None -> owners + rollback_allowed + the declarer
    private_channel: bool = False  # the incident channel is private (invited people only)
    require_approval: bool = False
    escalation: str | None = None
    db_migrations: bool = False
    backup_job: BackupJob | None = None  # run before a rollback (db_migrations only); a failed one refuses it
    migration_runbook: str | None = None  # where the plan points for rolling a schema back (never automatic)
    window: str = "5m"  # rate window of a live read (detection)
    queries: dict[str, str] = field(default_factory=dict, compare=False)  # templates: defaults + overrides
    thresholds: Thresholds = field(default_factory=Thresholds)
    analysis: Analysis = field(default_factory=Analysis)
    blue_green: BlueGreen | None = None  # strategy: blue-green
    canary: Canary | None = None  # strategy: canary
    config: ConfigRollback | None = None  # strategy: config

    def __post_init__(self) -> None:
        if not self.deployment:
            object.__setattr__(self, "deployment", self.name)
        templates = {**default_queries(self.thresholds.restarts_window), **self.queries}
        object.__setattr__(self, "queries", templates)

    def query(self, signal: str, window: str | None = None) -> str | None:
        """The signal's PromQL over ``window`` (default: the service's ``window``); None if it has none.

        $service, $namespace and $selector are filled in escaped, so an override like
        ``up{service="$service"}`` is safe; one pass, so a value is never substituted again.
        """
        template = self.queries.get(signal)
        if not template:
            return None
        name, namespace = promql_string(self.name), promql_string(self.namespace)
        return string.Template(template).safe_substitute(
            service=name[1:-1],
            namespace=namespace[1:-1],
            selector=f"service={name},namespace={namespace}",
            window=window or self.window,
        )

    def who_may(self, action: Action, declared_by: str | None) -> tuple[str, ...]:
        """The user ids allowed to take ``action`` (``("*",)``: anyone), to check and to name in a refusal."""
        if action.kind is Kind.ANYONE:
            return (ANYONE,)
        if action.kind is Kind.ROLLBACK:
            return self.rollback_allowed
        if self.responders is not None:
            return self.responders
        if action.kind is Kind.READ:
            declared_by = None  # anyone may declare; that must not open the service's config to them
        people = (*self.owners, *self.rollback_allowed, *((declared_by,) if declared_by else ()))
        return (ANYONE,) if ANYONE in people else tuple(dict.fromkeys(people))

    def may(self, action: Action, user_id: str, declared_by: str | None) -> bool:
        """Whether ``user_id`` may take ``action`` on an incident of this service declared by ``declared_by``."""
        allowed = self.who_may(action, declared_by)
        return ANYONE in allowed or user_id in allowed

    def may_roll_back(self, user_id: str) -> bool:
        return self.may(Action.ROLL_BACK, user_id, None)


@dataclass(frozen=True)
class Catalog:
    services: dict[str, ServiceConfig]
    announcements_channel: str | None = None  # None: no announcements
    reminder_minutes: int = 30
    warnings: tuple[str, ...] = ()  # "<path>:<line>: warning: <field>: <message>", for check-config and the log

    def get(self, name: str) -> ServiceConfig | None:
        return self.services.get(name) if isinstance(name, str) else None


# ------------------------------------------------------------------ catalog validation

_INVALID = object()


class _Reader:
    """Walks the YAML node tree, converting values and collecting ``file:line: field: message`` errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self._loader = yaml.SafeLoader("")

    def error(self, node: yaml.Node, where: str, message: str) -> object:
        self.errors.append(f"{self.path}:{node.start_mark.line + 1}: {where or '(top level)'}: {message}")
        return _INVALID

    def warn(self, node: yaml.Node, where: str, message: str) -> None:
        """Something allowed but risky: ``check-config`` shows it, the bot still starts."""
        self.warnings.append(f"{self.path}:{node.start_mark.line + 1}: warning: {where}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self._loader.construct_object(node, deep=True)

    def got(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return repr(self.value(node))

    def mapping(
        self, node: yaml.Node, where: str, allowed: Mapping[str, str] | None
    ) -> dict[str, yaml.Node] | None:
        """Keys -> value nodes; ``allowed`` (key -> description) makes unknown keys errors."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where, f"expected a mapping, got {self.got(node)}")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            sub = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str):
                self.error(
                    key_node, where or "(top level)", f"keys must be strings, got {self.got(key_node)}"
                )
            elif key in out:
                self.error(key_node, sub, "duplicate key")
            elif allowed is not None and key not in allowed:
                self.error(key_node, sub, f"unknown key (expected one of: {', '.join(allowed)})")
            else:
                out[key] = value_node
        return out

    def check(self, node: yaml.Node, where: str, ok: Callable[[Any], bool], expected: str) -> Any:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else _INVALID
        if value is _INVALID or not ok(value):
            return self.error(node, where, f"expected {expected}, got {self.got(node)}")
        return value

    def strings(self, node: yaml.Node, where: str, ok: Callable[[Any], bool], expected: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            return self.error(node, where, f"expected a list of {expected}, got {self.got(node)}")
        items = [self.check(item, f"{where}[{i}]", ok, expected) for i, item in enumerate(node.value)]
        return _INVALID if _INVALID in items else tuple(items)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_url(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", v) is not None


def _is_user(v: Any) -> bool:
    return isinstance(v, str) and _USER_ID.fullmatch(v) is not None


def _is_duration(v: Any) -> bool:
    return isinstance(v, str) and _DURATION.fullmatch(v) is not None


def _is_channel(v: Any) -> bool:
    return isinstance(v, str) and _CHANNEL.fullmatch(v) is not None


def _is_query(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _is_user_or_anyone(v: Any) -> bool:
    return v == ANYONE or _is_user(v)


def _is_positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _is_strategy(v: Any) -> bool:
    return v in STRATEGIES or v in PLANNED_STRATEGIES


_K8S = (valid_k8s_name, "a Kubernetes name (lowercase letters, digits and '-', at most 63 characters)")
_DURATION_CHECK = (_is_duration, "a duration such as 5m")
_RATIO = (lambda v: _is_number(v) and 0 <= v <= 1, "a number between 0 and 1")
_SECONDS = (lambda v: _is_number(v) and v > 0, "a positive number of seconds")
_COUNT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number (0 or more)")
_BOOL = (lambda v: isinstance(v, bool), "true or false")
_USER = (_is_user, "a Slack user id such as U0123ABCD")

_THRESHOLD_CHECKS = {
    f.name: (
        _DURATION_CHECK
        if f.type == "str"
        else _COUNT
        if f.type == "int"
        else _SECONDS
        if f.name.startswith("latency")
        else _RATIO
    )
    for f in fields(Thresholds)
}

_SERVICE_KEYS = {
    "namespace": "required: the Kubernetes namespace the service runs in",
    "deployment": "",
    "container": "",
    "strategy": "",
    "health_url": "",
    "owners": "",
    "rollback_allowed": "",
    "responders": "",
    "private_channel": "",
    "require_approval": "",
    "escalation": "",
    "db_migrations": "",
    "backup_job": "",
    "migration_runbook": "",
    "window": "",
    "queries": "",
    "thresholds": "",
    "analysis": "",
    "blue_green": "",
    "canary": "",
    "config": "",
}
_ANALYSIS_CHECKS = {
    "interval": _DURATION_CHECK,
    "bake": _DURATION_CHECK,
    "failure_limit": (_is_positive_int, "a positive whole number"),
}
_TOP_KEYS = {"announcements_channel": "", "reminder_minutes": "", "services": ""}


def _read_analysis(r: _Reader, node: yaml.Node, where: str) -> Analysis | object:
    given = r.mapping(node, where, _ANALYSIS_CHECKS) or {}
    values = {k: r.check(n, f"{where}.{k}", *_ANALYSIS_CHECKS[k]) for k, n in given.items()}
    if _INVALID in values.values():
        return _INVALID
    analysis = replace(Analysis(), **values)
    if analysis.interval_seconds > analysis.bake_seconds:
        where_node = given.get("interval", node)
        return r.error(where_node, f"{where}.interval", f"must not be longer than bake ({analysis.bake})")
    return analysis


def _is_label_value(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", v) is not None


def _is_steps(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 100 for x in v)
        and all(a > b for a, b in zip(v, v[1:], strict=False))
        and v[-1] == 0
    )


_BLOCK_CHECKS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "blue_green": {
        "service": _K8S,
        "selector_key": (_is_label_value, "a label key such as version"),
        "virtual_service": _K8S,
        "after_switch": (lambda v: v in AFTER_SWITCH, " or ".join(AFTER_SWITCH)),
        "ready_timeout": _DURATION_CHECK,
    },
    "canary": {
        "stable": _K8S,
        "canary": _K8S,
        "virtual_service": _K8S,
        "stable_route": _K8S,
        "canary_route": _K8S,
        "step_pause": _DURATION_CHECK,
        "after": (lambda v: v in AFTER_CANARY, " or ".join(AFTER_CANARY)),
    },
    "config": {"configmap": _K8S},
}


def _read_strategy_blocks(r: _Reader, spec: dict[str, yaml.Node], node: yaml.Node, where: str, kwargs: dict) -> None:
    """``blue_green:`` / ``canary:``: required by their strategy, refused without it (a block that is never used
    would mislead whoever reads the catalog)."""
    strategy = kwargs.get("strategy", "kubernetes")
    needed = STRATEGY_BLOCKS.get(strategy)
    for key in _BLOCK_CHECKS:
        if key in spec and key != needed:
            r.error(spec[key], f"{where}.{key}", f"only used with strategy: {key.replace('_', '-')}; remove it")
    if not needed or strategy is _INVALID:
        return
    if needed not in spec:
        r.error(node, f"{where}.{needed}", f"missing (strategy {strategy} needs it; see config/services.example.yaml)")
        return
    lists = {"secrets": None} if needed == "config" else {"colours": None, "steps": None}  # read below
    checks = {**_BLOCK_CHECKS[needed], **lists}
    given = r.mapping(spec[needed], f"{where}.{needed}", checks) or {}
    values: dict[str, Any] = {
        k: r.check(n, f"{where}.{needed}.{k}", *checks[k]) for k, n in given.items() if checks[k] is not None
    }
    if needed == "blue_green":
        colours = r.mapping(given["colours"], f"{where}.blue_green.colours", None) if "colours" in given else None
        if colours is None:
            if "colours" not in given:
                missing = "missing (selector value -> Deployment, two of them)"
                r.error(spec[needed], f"{where}.blue_green.colours", missing)
            return
        if len(colours) != 2:
            r.error(given["colours"], f"{where}.blue_green.colours", f"expected two colours, got {len(colours)}")
        for colour, n in colours.items():
            if not _is_label_value(colour):
                r.error(n, f"{where}.blue_green.colours.{colour}", "the colour must be a label value")
        values["colours"] = {c: r.check(n, f"{where}.blue_green.colours.{c}", *_K8S) for c, n in colours.items()}
        if _INVALID not in values.values() and _INVALID not in values["colours"].values():
            kwargs["blue_green"] = BlueGreen(**values)
        return
    if needed == "config":
        if "configmap" not in given:
            r.error(spec[needed], f"{where}.config.configmap", "missing (the ConfigMap to restore)")
            return
        if "secrets" in given:
            values["secrets"] = r.strings(given["secrets"], f"{where}.config.secrets", *_K8S)
        if _INVALID not in values.values():
            kwargs["config"] = ConfigRollback(**values)
        return
    for key in ("stable", "canary"):
        if key not in given:
            r.error(spec[needed], f"{where}.canary.{key}", "missing (the Deployment's name)")
    if "steps" in given:
        values["steps"] = r.value(given["steps"])
        if not _is_steps(values["steps"]):
            r.error(given["steps"], f"{where}.canary.steps", "expected falling canary weights (0-99) ending with 0")
            return
        values["steps"] = tuple(values["steps"])
    if _INVALID not in values.values() and "stable" in values and "canary" in values:
        kwargs["canary"] = Canary(**values)


_BACKUP_CHECKS = {
    "image": (lambda v: isinstance(v, str) and bool(v.strip()) and not any(c.isspace() for c in v), "an image"),
    "namespace": _K8S,
    "deadline": _DURATION_CHECK,
}


def _read_backup_job(r: _Reader, node: yaml.Node, where: str, kwargs: dict) -> None:
    """``backup_job: {image, command, namespace, deadline}``; only with ``db_migrations: true``."""
    if kwargs.get("db_migrations") is not True:
        r.error(node, where, "needs db_migrations: true (a backup is taken only before a rollback across migrations)")
        return
    given = r.mapping(node, where, {**_BACKUP_CHECKS, "command": ""}) or {}
    for key in ("image", "command"):
        if key not in given:
            r.error(node, f"{where}.{key}", "missing")
    values = {k: r.check(n, f"{where}.{k}", *_BACKUP_CHECKS[k]) for k, n in given.items() if k != "command"}
    if "command" in given:
        values["command"] = r.strings(given["command"], f"{where}.command", lambda v: isinstance(v, str), "strings")
    if _INVALID not in values.values() and {"image", "command"} <= set(values):
        kwargs["backup_job"] = BackupJob(**values)


def _people(r: _Reader, node: yaml.Node, where: str) -> Any:
    """``"*"`` (anyone) or a list of Slack user ids (which may include ``"*"``)."""
    if isinstance(node, yaml.ScalarNode) and r.value(node) == ANYONE:
        return (ANYONE,)
    return r.strings(node, where, _is_user_or_anyone, 'Slack user ids or "*"')


def _read_service(r: _Reader, name: str, node: yaml.Node, where: str) -> ServiceConfig | None:
    spec = r.mapping(node, where, _SERVICE_KEYS)
    if spec is None:
        return None
    errors_before = len(r.errors)
    kwargs: dict[str, Any] = {"name": name}
    if "namespace" not in spec or r.value(spec["namespace"]) is None:
        r.error(node, f"{where}.namespace", f"missing ({_SERVICE_KEYS['namespace']})")
    simple = {
        "namespace": _K8S,
        "deployment": _K8S,
        "container": _K8S,
        "strategy": (_is_strategy, f"{' or '.join(STRATEGIES)} (not available yet: {', '.join(PLANNED_STRATEGIES)})"),
        "health_url": (_is_url, "an http:// or https:// URL"),
        "private_channel": _BOOL,
        "require_approval": _BOOL,
        "escalation": _USER,
        "db_migrations": _BOOL,
        "migration_runbook": (_is_url, "an http:// or https:// URL"),
        "window": _DURATION_CHECK,
    }
    for key, (ok, expected) in simple.items():
        if key in spec and r.value(spec[key]) is not None:
            kwargs[key] = r.check(spec[key], f"{where}.{key}", ok, expected)
    if kwargs.get("strategy") in PLANNED_STRATEGIES:
        r.error(
            spec["strategy"],
            f"{where}.strategy",
            f"the {kwargs['strategy']} strategy is not available yet (available: {', '.join(STRATEGIES)}); "
            "use one of those, or leave the service out of the catalog until it is",
        )
    if "owners" in spec:
        kwargs["owners"] = r.strings(spec["owners"], f"{where}.owners", *_USER)
    for key in ("rollback_allowed", "responders"):
        if key in spec:
            kwargs[key] = _people(r, spec[key], f"{where}.{key}")
    allowed = kwargs.get("rollback_allowed", (ANYONE,))
    if allowed is not _INVALID and ANYONE in allowed:
        r.warn(
            spec.get("rollback_allowed", node),
            f"{where}.rollback_allowed",
            f"anyone in the workspace may roll back {name}"
            f"{'' if 'rollback_allowed' in spec else ' (the default)'}; "
            "list who may, e.g. rollback_allowed: [U0ONCALL1, U0OWNER01]",
        )
    if "queries" in spec and r.value(spec["queries"]) is not None:
        queries = r.mapping(spec["queries"], f"{where}.queries", dict.fromkeys(SIGNALS, "")) or {}
        kwargs["queries"] = {
            k: r.check(n, f"{where}.queries.{k}", _is_query, "a PromQL query") for k, n in queries.items()
        }
    if "thresholds" in spec and r.value(spec["thresholds"]) is not None:
        thresholds_node = spec["thresholds"]
        given = r.mapping(thresholds_node, f"{where}.thresholds", _THRESHOLD_CHECKS) or {}
        values = {k: r.check(n, f"{where}.thresholds.{k}", *_THRESHOLD_CHECKS[k]) for k, n in given.items()}
        if _INVALID not in values.values():
            t = replace(Thresholds(), **values)
            if t.http_5xx_high > t.http_5xx_critical:
                message = "must not be above http_5xx_critical"
                r.error(thresholds_node, f"{where}.thresholds.http_5xx_high", message)
            kwargs["thresholds"] = t
    if "analysis" in spec and r.value(spec["analysis"]) is not None:
        kwargs["analysis"] = _read_analysis(r, spec["analysis"], f"{where}.analysis")
    _read_strategy_blocks(r, spec, node, where, kwargs)
    if "backup_job" in spec:
        _read_backup_job(r, spec["backup_job"], f"{where}.backup_job", kwargs)
    if len(r.errors) > errors_before:
        return None
    return ServiceConfig(**kwargs)


def _read_catalog(r: _Reader, root: yaml.Node | None) -> Catalog | None:
    if root is None:
        r.errors.append(f"{r.path}:1: (top level): the file is empty; expected a 'services' mapping")
        return None
    top = r.mapping(root, "", _TOP_KEYS)
    if top is None:
        return None
    kwargs: dict[str, Any] = {}
    if "announcements_channel" in top and r.value(top["announcements_channel"]) is not None:
        expected = 'a channel such as "#incidents" or an id'
        kwargs["announcements_channel"] = r.check(
            top["announcements_channel"], "announcements_channel", _is_channel, expected
        )
    if "reminder_minutes" in top:
        expected = "a positive whole number"
        kwargs["reminder_minutes"] = r.check(
            top["reminder_minutes"], "reminder_minutes", _is_positive_int, expected
        )
    services: dict[str, ServiceConfig] = {}
    if "services" not in top:
        r.error(root, "services", "missing (a mapping of service name to its settings)")
    else:
        for name, node in (r.mapping(top["services"], "services", None) or {}).items():
            where = f"services.{name}"
            if not valid_k8s_name(name):
                r.error(node, where, f"the service name must be {_K8S[1]}")
                continue
            service = _read_service(r, name, node, where)
            if service is not None:
                services[name] = service
    if r.errors:
        return None
    return Catalog(services=services, warnings=tuple(r.warnings), **kwargs)


def _read_file(path: str | os.PathLike[str]) -> tuple[Catalog | None, list[str], list[str]]:
    """The catalog (None when there are errors), its error lines and its warning lines, each in file order."""
    r = _Reader(str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"{path}: cannot read the services catalog: {exc.strerror or exc}"], []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: (yaml): {exc.problem or exc}"], []
    catalog = _read_catalog(r, root)

    def in_file_order(lines: list[str]) -> list[str]:  # as an editor shows them: each starts "<path>:<line>: "
        return sorted(lines, key=lambda e: int(e[len(r.path) + 1 :].split(":", 1)[0]))

    return catalog, in_file_order(r.errors), in_file_order(r.warnings)


def load_catalog(path: str | os.PathLike[str]) -> Catalog:
    """Read and validate the catalog; raise ``ConfigError`` listing every problem (warnings do not raise)."""
    catalog, errors, _ = _read_file(path)
    if catalog is None:
        raise ConfigError(errors)
    return catalog


def check_config(path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """The catalog's error and warning lines (both empty when it is fine), for ``rollback-bot check-config``."""
    _, errors, warnings = _read_file(path)
    return errors, warnings

"""The one list of rollback strategies everything else reads: the catalog, the runtime, the cards, the CLI.

Each strategy is a ``StrategySpec``. The built-in ones register through the Python entry point group
``rollback_bot.strategies`` (pyproject.toml), exactly as a third-party package does; code that cannot ship an
entry point (a test, a script) calls ``register(spec)``. docs/writing-a-strategy.md explains every field.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from bot.strategies.base import RUN_STEPS, Strategy
from bot.strategies.versions import VersionStore

GROUP = "rollback_bot.strategies"


@dataclass(frozen=True)
class Emergency:
    """A strategy's own emergency actions on the failure card: the select of what else to go to (None: none
    makes sense) and the button that stops the bad release serving (``Strategy.scale(target, 0)``)."""

    choose: str | None
    choose_hint: str
    stop: str
    stop_confirm: str  # may name {service} and {namespace}
    finish_step: str = ""  # the step whose failure can leave the change half done: the card offers to finish it


SCALE_TO_ZERO = Emergency(
    "Choose another revision…",
    "roll back to another revision (*Choose another revision…*)",
    "Scale to zero",
    "Every pod of *{service}* in `{namespace}` stops: the service is DOWN until someone scales it back up.",
)


WORKLOAD, BACKUP_JOB, ARGO_CD, FLUX = "workload", "backup", "argocd", "flux"  # where a Rule is granted


@dataclass(frozen=True)
class Rule:
    """One Kubernetes RBAC rule the strategy's calls need (``rollback-bot rbac`` makes the Roles of a catalog
    from every spec's rules). ``where``: the namespace it is granted in: ``workload`` (the service's),
    ``backup`` (its ``backup_job``'s; only for a service that has one), ``argocd`` / ``flux`` (where those
    controllers keep their objects; only when ``rollback-bot rbac`` is told that namespace)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    where: str = WORKLOAD

    def as_dict(self) -> dict[str, list[str]]:
        return {"apiGroups": list(self.api_groups), "resources": list(self.resources), "verbs": list(self.verbs)}


class Connections(Protocol):
    """The runtime's clients (``bot.providers.clients.Clients``) as a builder sees them; a provider's next kind
    of client (``ssh(host)``) is added here and there."""

    def kubernetes(self, kubeconfig: str | None = None, context: str | None = None) -> Any: ...

    def aws(self, account: str | None, region: str) -> Any:
        """A boto3 session (``bot.providers.aws.session.AwsSession``) of an account and region."""

    def docker(self, host: str, ca: str = "", cert: str = "", key: str = "") -> Any:
        """A ``docker.DockerClient`` of one Engine endpoint."""


@dataclass(frozen=True)
class BuildContext:
    """What a builder may connect with, made once by the runtime (the strategies sit below the providers and
    the state: they get these, never import them)."""

    clients: Connections  # a builder takes its API client (or session) from here, never builds one
    versions: VersionStore | None = None  # the recorded config versions, for a strategy that restores them
    cluster: str | None = None  # where the strategy acts: a kubeconfig context (None: the current one)


def _no_workloads(workload: str, options: Any) -> tuple[tuple[str, str], ...]:
    return ()


def _watches_nothing(options: Any) -> frozenset[tuple[str, str]]:
    return frozenset()


def _nowhere(service: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class StrategySpec:
    """Everything the bot knows about one strategy, in one place.

    ``options``: a dataclass whose ``read(reader, node, where)`` classmethod validates the catalog's
    ``options:`` block with ``bot.config.reader.CatalogReader`` (file:line errors) and returns an instance
    (None after an error); ``aliases`` are older names of that block (``blue_green:``). ``extra_steps`` maps
    the step names this strategy adds to the common ones (``bot.steps``) to ``"module:function"``, imported
    when a run first needs them. ``workloads(workload, options)`` gives the (resource, name) pairs whose pod
    templates the config tracker reads; ``watches(options)`` the (kind, name) config objects the options name.
    ``build`` is None for a planned strategy: the catalog refuses it with "not available yet". ``rbac`` and ``iam``:
    the Kubernetes rules and the AWS IAM actions its calls need (the least-privilege Role and policy are made
    from them).
    ``locate(service)`` turns a catalog service (``bot.config.ServiceConfig``) into ``Target.locator``: where
    it runs, in its provider's words. ``check_by_hand`` is the command a person runs to see the rollout when
    the bot could not verify it, with ``{key}`` fields of the locator. ``env_only``: it can restore only the env
    of a revision (*Revert env only*); ``restores_config``: it restores recorded ConfigMap / Secret versions.
    """

    name: str
    provider: str
    build: Callable[[BuildContext], Strategy] | None
    options: type | None = None
    aliases: tuple[str, ...] = ()
    steps: tuple[str, ...] = RUN_STEPS
    extra_steps: Mapping[str, str] = field(default_factory=dict)
    emergency: Emergency = SCALE_TO_ZERO
    workloads: Callable[[str, Any], tuple[tuple[str, str], ...]] = _no_workloads
    watches: Callable[[Any], frozenset[tuple[str, str]]] = _watches_nothing
    rbac: tuple[Rule, ...] = ()
    iam: tuple[str, ...] = ()  # the AWS IAM actions its calls need ("ecs:UpdateService"): docs/aws-iam-policy.json
    locate: Callable[[Any], dict[str, str]] = _nowhere
    check_by_hand: str = ""
    env_only: bool = False
    restores_config: bool = False
    description: str = ""
    rank: int = 100  # where it is listed (the catalog's errors, ``--strategy``): lower first, then by name

    @property
    def planned(self) -> bool:
        return self.build is None


class UnknownStrategy(KeyError):
    """A name no registered strategy has; the message lists the ones there are."""

    def __str__(self) -> str:
        return str(self.args[0])


_lock = threading.Lock()
_specs: dict[str, StrategySpec] = {}
_loaded = False


def _load_entry_points() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        for point in entry_points(group=GROUP):
            spec = point.load()
            if not isinstance(spec, StrategySpec) or spec.name != point.name:
                raise TypeError(f"entry point {point.name} = {point.value} is not the StrategySpec named {point.name}")
            _specs.setdefault(spec.name, spec)
        _loaded = True


def register(spec: StrategySpec) -> None:
    """Add a strategy that has no entry point. Registering the same spec again is harmless; another spec of
    the same name is refused (two strategies answering to one catalog name is a mistake)."""
    _load_entry_points()
    with _lock:
        if _specs.get(spec.name, spec) is not spec:
            raise ValueError(f"a strategy named {spec.name!r} is registered already")
        _specs[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a strategy added with ``register`` (a test's cleanup)."""
    with _lock:
        _specs.pop(name, None)


def specs() -> dict[str, StrategySpec]:
    """Every registered strategy by name, available and planned, in their listing order (``rank``)."""
    _load_entry_points()
    with _lock:
        return {s.name: s for s in sorted(_specs.values(), key=lambda s: (s.rank, s.name))}


def spec(name: str) -> StrategySpec:
    found = specs().get(name)
    if found is None:
        raise UnknownStrategy(f"no strategy is named {name!r} (available: {', '.join(available())})")
    return found


def available() -> tuple[str, ...]:
    """The strategies this bot can run."""
    return tuple(name for name, s in specs().items() if not s.planned)


def planned() -> tuple[str, ...]:
    """Designed but not built: the catalog refuses them rather than fail mid-incident."""
    return tuple(name for name, s in specs().items() if s.planned)


def check_by_hand(name: str, locator: Mapping[str, str]) -> str:
    """The command that shows ``name``'s rollout at ``locator`` ("" when the strategy names none)."""
    found = specs().get(name)
    try:
        return found.check_by_hand.format_map(dict(locator)) if found else ""
    except (KeyError, ValueError):  # a locator stored before a key was added
        return ""


def emergency(name: str) -> Emergency:
    """The strategy's emergency actions (a run of a strategy no longer registered shows the default ones)."""
    found = specs().get(name)
    return found.emergency if found else SCALE_TO_ZERO

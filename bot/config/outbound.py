"""The catalog's outgoing messages: ``webhooks:`` (top level: a signed JSON POST per state change) and a
service's ``status_page: {component: …}`` (the component the incident's state sets). Read by ``catalog.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from bot.config.reader import INVALID, CatalogReader, is_url

STATUSES = {  # a Statuspage component's statuses, mildest first, in the page's words
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
WEBHOOK_EVENTS = ("declared", "decided", "rollback_started", "verified", "failed", "resolved")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_env: str  # the environment variable that holds the HMAC key (never the key in the catalog)
    events: tuple[str, ...] = WEBHOOK_EVENTS


@dataclass(frozen=True)
class StatusPage:
    component: str  # the Statuspage component id


def read_webhooks(r: CatalogReader, node: yaml.Node | None) -> tuple[Webhook, ...] | object:
    """``webhooks: [{url, secret_env, events?}]``."""
    if node is None or r.value(node) is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        return r.error(node, "webhooks", f"expected a list of {{url, secret_env}}, got {r.got(node)}")
    found = []
    for i, item in enumerate(node.value):
        where = f"webhooks[{i}]"
        spec = r.mapping(item, where, {"url": "", "secret_env": "", "events": ""})
        if spec is None:
            continue
        kwargs: dict[str, Any] = {}
        for key, ok, expected in (
            ("url", is_url, "an http(s) URL"),
            ("secret_env", lambda v: isinstance(v, str) and bool(_ENV_NAME.match(v)), "an environment variable name"),
        ):
            if key not in spec:
                r.error(item, f"{where}.{key}", f"missing ({expected})")
            else:
                kwargs[key] = r.check(spec[key], f"{where}.{key}", ok, expected)
        if "events" in spec:
            kwargs["events"] = r.strings(
                spec["events"], f"{where}.events", lambda v: v in WEBHOOK_EVENTS, "one of " + ", ".join(WEBHOOK_EVENTS)
            )
        if INVALID not in kwargs.values() and len(kwargs) >= 2:
            found.append(Webhook(**{k: tuple(v) if k == "events" else v for k, v in kwargs.items()}))
    return tuple(found)


def read_status_page(r: CatalogReader, spec: dict[str, yaml.Node], where: str, kwargs: dict) -> None:
    """``status_page: {component: <id>}``."""
    node = spec.get("status_page")
    if node is None or r.value(node) is None:
        return
    fields = r.mapping(node, f"{where}.status_page", {"component": ""})
    if fields is None:
        return
    if "component" not in fields:
        r.error(node, f"{where}.status_page.component", "missing (the Statuspage component id)")
        return
    component = r.check(
        fields["component"], f"{where}.status_page.component", lambda v: isinstance(v, str) and v.strip(), "an id"
    )
    if component is not INVALID:
        kwargs["status_page"] = StatusPage(component)

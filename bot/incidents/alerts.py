"""Alerts from Alertmanager: one incident per catalog service, declared by the ``alertmanager`` system actor.

A notification's alerts are mapped to catalog services by a label (``ALERTMANAGER_SERVICE_LABEL``, default
``service``). Per service: no open incident and something firing -> declare one; then each alert not yet on
the timeline (its fingerprint, status and start) is recorded there, firing or resolved. Alertmanager repeats
a group's notification every ``repeat_interval`` and may send one alert in several groups: those repeats add
nothing. A service's alerts are handled one notification at a time (a lock per service in this process; the
database's one-open-incident-per-service rule covers several replicas), off the request thread.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from bot.incidents import auto_rollback
from bot.incidents.actors import SystemActor
from bot.incidents.alert_payload import Alert, Notification
from bot.incidents.declare import declare
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.state import timeline
from bot.state.incidents import open_incident_for_service

log = logging.getLogger(__name__)
ALERTMANAGER = SystemActor("alertmanager")
EVENT = "alert"  # the timeline kind of an alert's notification

_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_lock = threading.Lock()


@dataclass(frozen=True)
class Receipt:
    """What the webhook answers: which services the alerts went to, and which alerts were not for one."""

    services: dict[str, int]  # catalog service -> alerts for it
    ignored: tuple[str, ...]  # "<alertname>: why"

    def json(self) -> dict:
        return {"services": self.services, "ignored": list(self.ignored)}


def route(rt: Runtime, notification: Notification) -> tuple[dict[str, list[Alert]], list[str]]:
    """The alerts by catalog service, and why each of the others is not for one."""
    label = rt.settings.alertmanager_service_label
    by_service: dict[str, list[Alert]] = {}
    ignored = []
    for alert in notification.alerts:
        name = alert.labels.get(label)
        if name is None:
            ignored.append(f"{alert.name}: no {label!r} label")
        elif rt.catalog.get(name) is None:
            ignored.append(f"{alert.name}: {label}={name!r} is not in the services catalog")
        else:
            by_service.setdefault(name, []).append(alert)
    return by_service, ignored


def receive(rt: Runtime, notification: Notification) -> Receipt:
    """Accept a checked notification: each service's alerts are handled in the background, in order."""
    by_service, ignored = route(rt, notification)
    for why in ignored:
        log.warning("alert from Alertmanager ignored (group %s): %s", notification.group_key, why)
    for service, alerts in by_service.items():
        rt.submit(handle, rt, service, notification.group_key, tuple(alerts), answer=ALERTMANAGER)
    return Receipt({s: len(a) for s, a in by_service.items()}, tuple(ignored))


def _lock(service: str) -> threading.Lock:
    with _locks_lock:
        return _locks[service]


def handle(rt: Runtime, service: str, group_key: str, alerts: tuple[Alert, ...]) -> None:
    """Declare the service's incident when something fires and none is open, then record what is new."""
    with _lock(service):
        incident = open_incident_for_service(rt.db, service)
        firing = [a for a in alerts if a.status == "firing"]
        if incident is None:
            if not firing:
                log.info(
                    "alerts handled: %s, %d resolved with no open incident: nothing to record", service, len(alerts)
                )
                return
            incident = declare(rt, service, reason(firing), ALERTMANAGER)
            if incident is None:
                return
            if incident.declared_by == ALERTMANAGER.id:
                auto_rollback.begin(rt, incident, rt.catalog.get(service))
        seen = {_key(e.data) for e in timeline.events(rt.db, incident.id) if e.kind == EVENT and e.data}
        new = list({a.key: a for a in alerts if a.key not in seen}.values())
        for alert in new:
            record(rt, incident.id, EVENT, _text(alert), actor=ALERTMANAGER, data=_data(alert, group_key))
        log.info(
            "alerts handled: %s, %d from group %s, %d new on %s",
            service,
            len(alerts),
            group_key,
            len(new),
            incident.key,
        )


def reason(firing: list[Alert]) -> str:
    first = firing[0]
    more = len({a.name for a in firing}) - 1
    return f"{first.name}: {first.summary}" + (f" (and {more} more alert{'s' * (more > 1)})" if more else "")


def _text(alert: Alert) -> str:
    if alert.status == "resolved":
        ended = f" at {alert.ends_at:%H:%M:%S} UTC" if alert.ends_at else ""
        return f"Alert {alert.name} resolved{ended}: {alert.summary}"
    return f"Alert {alert.name} firing since {alert.starts_at:%H:%M:%S} UTC: {alert.summary}"


def _data(alert: Alert, group_key: str) -> dict:
    return {
        "alertname": alert.name,
        "status": alert.status,
        "fingerprint": alert.fingerprint,
        "group_key": group_key,
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "labels": alert.labels,
        "generator_url": alert.generator_url,
    }


def _key(data: dict) -> tuple[str, str, str]:
    return data.get("fingerprint", ""), data.get("status", ""), data.get("starts_at", "")

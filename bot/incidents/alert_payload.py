"""Alertmanager's webhook body (version 4), read strictly: a body that is not one is refused whole.

https://prometheus.io/docs/alerting/latest/configuration/#webhook_config gives the format. Everything is
checked before anything is done with it, so a malformed body changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

STATUSES = ("firing", "resolved")
MAX_ALERTS = 1000  # Alertmanager's max_alerts defaults to 0 (all); a group this big is a misconfiguration


class BadAlerts(ValueError):
    """The body is not an Alertmanager v4 webhook; the message says what is wrong."""


@dataclass(frozen=True)
class Alert:
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: dt.datetime
    ends_at: dt.datetime | None  # None: Alertmanager's zero time (still firing)
    fingerprint: str
    generator_url: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or self.annotations.get("description") or self.name

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a notification of this alert new: a repeat of the same state is not."""
        return self.fingerprint, self.status, self.starts_at.isoformat()


@dataclass(frozen=True)
class Notification:
    group_key: str
    status: str
    receiver: str
    alerts: tuple[Alert, ...]
    external_url: str = ""


def _strings(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadAlerts(f"{where} must be an object of strings")
    return dict(value)


def _time(value: object, where: str, optional: bool = False) -> dt.datetime | None:
    if optional and value in (None, "", "0001-01-01T00:00:00Z"):
        return None
    if not isinstance(value, str):
        raise BadAlerts(f"{where} must be an RFC 3339 time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadAlerts(f"{where} must be an RFC 3339 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise BadAlerts(f"{where} must carry a time zone")
    if parsed.year <= 1:
        return None
    return parsed.astimezone(dt.UTC)


def _status(value: object, where: str) -> str:
    if value not in STATUSES:
        raise BadAlerts(f"{where} must be firing or resolved")
    return str(value)


def _alert(raw: object, where: str) -> Alert:
    if not isinstance(raw, dict):
        raise BadAlerts(f"{where} must be an object")
    labels = _strings(raw.get("labels"), f"{where}.labels")
    fingerprint = raw.get("fingerprint")
    if fingerprint is None:  # older senders: the same labels are the same alert
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    if not isinstance(fingerprint, str) or not fingerprint:
        raise BadAlerts(f"{where}.fingerprint must be a string")
    url = raw.get("generatorURL", "")
    return Alert(
        status=_status(raw.get("status"), f"{where}.status"),
        labels=labels,
        annotations=_strings(raw.get("annotations", {}), f"{where}.annotations"),
        starts_at=_time(raw.get("startsAt"), f"{where}.startsAt"),
        ends_at=_time(raw.get("endsAt"), f"{where}.endsAt", optional=True),
        fingerprint=fingerprint,
        generator_url=url if isinstance(url, str) else "",
    )


def parse(body: bytes) -> Notification:
    """The notification in ``body``, or ``BadAlerts`` naming the first thing that is wrong."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadAlerts(f"the body is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise BadAlerts("the body must be a JSON object")
    if raw.get("version") != "4":
        raise BadAlerts(f'version must be "4" (Alertmanager\'s webhook format), got {raw.get("version")!r}')
    group_key = raw.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise BadAlerts("groupKey must be a non-empty string")
    alerts = raw.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise BadAlerts("alerts must be a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise BadAlerts(f"at most {MAX_ALERTS} alerts in one notification, got {len(alerts)}")
    receiver, external = raw.get("receiver", ""), raw.get("externalURL", "")
    return Notification(
        group_key=group_key,
        status=_status(raw.get("status"), "status"),
        receiver=receiver if isinstance(receiver, str) else "",
        alerts=tuple(_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)),
        external_url=external if isinstance(external, str) else "",
    )

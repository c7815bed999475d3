"""Alertmanager webhook bodies (version 4) as Alertmanager 0.25 sends them, and the bot's incidents they make."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import requests
from sqlalchemy import select

from bot.state.models import Incident

ZERO = "0001-01-01T00:00:00Z"


def alert(service: str, name: str = "HighErrorRate", status: str = "firing", label: str = "service", **extra) -> dict:
    labels = {"alertname": name, label: service, "severity": "page", **extra}
    starts = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{service}: 30% of requests fail (4xx/5xx)"},
        "startsAt": starts,
        "endsAt": "2026-12-06T12:30:00Z" if status == "resolved" else ZERO,
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def notification(*alerts: dict, group_key: str = '{}:{alertname="HighErrorRate"}') -> dict:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "rollback-bot",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
    }


def post(bot, body: dict | bytes, token: str | None = None, **headers) -> requests.Response:
    token = bot.world.alertmanager_token if token is None else token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{bot.url}/alerts/alertmanager",
        data=data,
        headers={"Content-Type": "application/json", **auth, **headers},
        timeout=10,
    )


def incidents(bot) -> list[Incident]:
    return bot.rt.db.transaction(lambda s: list(s.scalars(select(Incident).order_by(Incident.id))))

"""PagerDuty Events API v2, when ``PAGERDUTY_ROUTING_KEY`` is set: a page is also a ``trigger`` (``dedup_key`` per
incident and situation), the incident's resolution a ``resolve`` of each. Sent off the caller's thread with retries
(429, 5xx, unreachable); a PagerDuty that keeps failing is reported in the channel and on the timeline, and never
holds up the Slack page or the incident."""

from __future__ import annotations

import logging
import threading
import time

import requests

from bot.incidents.common import quietly
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.state.models import Incident

log = logging.getLogger(__name__)

DELAYS = (0.5, 1.0, 2.0)  # between the attempts (four in all)
TIMEOUT = 5.0
_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


def dedup_key(incident: Incident, situation: str) -> str:
    return f"{incident.key}/{situation}"


def trigger(rt: Runtime, incident: Incident, situation: str, summary: str) -> threading.Thread | None:
    severity = _SEVERITY.get(incident.severity or "", "error")
    payload = {
        "summary": summary[:1024],
        "source": f"rollback-bot/{incident.service}",
        "severity": severity,
        "custom_details": {"incident": incident.key, "situation": situation, "service": incident.service},
    }
    return _send(rt, incident, "trigger", situation, payload)


def acknowledge(rt: Runtime, incident: Incident, situation: str) -> None:
    _send(rt, incident, "acknowledge", situation, None)


def resolve_all(rt: Runtime, incident: Incident, situations: list[str]) -> None:
    for situation in dict.fromkeys(situations):
        _send(rt, incident, "resolve", situation, None)


def _send(rt: Runtime, incident: Incident, action: str, situation: str, payload: dict | None):
    key = rt.settings.pagerduty_routing_key
    if not key:
        return None
    body = {"routing_key": key, "event_action": action, "dedup_key": dedup_key(incident, situation)}
    if payload:
        body["payload"] = payload
    thread = threading.Thread(
        target=_deliver, args=(rt, incident, action, situation, body), name="pagerduty", daemon=True
    )
    thread.start()
    return thread


def _deliver(rt: Runtime, incident: Incident, action: str, situation: str, body: dict) -> None:
    problem = ""
    for delay in (*DELAYS, None):
        try:
            answer = requests.post(rt.settings.pagerduty_url, json=body, timeout=TIMEOUT)
            if answer.status_code == 202:
                record(
                    rt,
                    incident.id,
                    "pagerduty",
                    f"PagerDuty {action} sent ({situation})",
                    data={"action": action, "dedup_key": body["dedup_key"]},
                )
                return
            problem = f"HTTP {answer.status_code}: {answer.text[:200]}"
            if answer.status_code != 429 and answer.status_code < 500:
                break  # a refused event (a bad routing key) does not get better by retrying
        except requests.RequestException as exc:
            problem = f"unreachable ({type(exc).__name__})"
        if delay is not None:
            time.sleep(delay)
    log.warning("PagerDuty %s for %s failed: %s", action, incident.key, problem)
    record(
        rt,
        incident.id,
        "pagerduty_failed",
        f"PagerDuty {action} ({situation}) failed: {problem}",
        data={"action": action, "dedup_key": body["dedup_key"]},
    )
    if incident.channel_id:
        quietly(
            rt.slack.post,
            incident.channel_id,
            f":warning: PagerDuty did not take the {action} for {situation} ({problem}). The Slack page stands; "
            "page by phone if nobody answers.",
        )

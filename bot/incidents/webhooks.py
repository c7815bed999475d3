"""Outgoing webhooks: one JSON POST per state change of an incident to each of the catalog's ``webhooks:``.

The state changes are timeline events (``STATE_CHANGES``: declared, decided, rollback started, verified,
failed, resolved), so ``events.record`` calls ``on_event`` after each. Each POST is signed
(``X-Rollback-Bot-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<body>">`` with the key from the webhook's
``secret_env``, ``X-Rollback-Bot-Timestamp``), carries an ``Idempotency-Key`` (the same on every retry) and is
sent from a small pool of its own, retried with backoff: a slow or failing receiver never holds the incident.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bot.config.outbound import Webhook
from bot.state.models import Incident, TimelineEvent

log = logging.getLogger(__name__)
STATE_CHANGES = {
    "declared": "declared",
    "decision": "decided",
    "rollback_started": "rollback_started",
    "verified": "verified",
    "verification_failed": "failed",
    "rollback_failed": "failed",
    "resolved": "resolved",
}
ATTEMPTS = 4
BACKOFF = 0.5  # seconds before the second attempt; doubled each time after
TIMEOUT = 5.0
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhooks")


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(incident: Incident, event: TimelineEvent, name: str) -> dict:
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=dt.UTC)
    data = {k: v for k, v in (event.data or {}).items() if k in ("plan_decision", "what", "run_id", "actor")}
    return {
        "event": name,
        "id": f"{incident.key}:{event.id}",
        "at": at.isoformat(),
        "text": event.text,
        "actor": event.actor,
        "incident": {
            "key": incident.key,
            "service": incident.service,
            "status": incident.status,
            "severity": incident.severity,
            "channel_id": incident.channel_id,
        },
        "data": data,
    }


def on_event(webhooks: tuple[Webhook, ...], incident: Incident, event: TimelineEvent) -> None:
    """Queue one POST per webhook that wants this state change (nothing when it is no state change)."""
    name = STATE_CHANGES.get(event.kind)
    if name is None:
        return
    body = json.dumps(payload(incident, event, name), sort_keys=True).encode()
    for hook in webhooks:
        if name in hook.events:
            _pool.submit(deliver, hook, body, f"{incident.key}:{event.id}")


def deliver(hook: Webhook, body: bytes, idempotency_key: str, sleep=time.sleep) -> bool:
    """POST with retries (any 2xx ends them; 4xx but 408/429 too: a refusal is not retried)."""
    key = os.environ.get(hook.secret_env, "")
    if not key:
        log.warning("webhook %s: %s is not set; not sending unsigned", hook.url, hook.secret_env)
        return False
    for attempt in range(ATTEMPTS):
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Rollback-Bot-Timestamp": stamp,
            "X-Rollback-Bot-Signature": signature(key.encode(), stamp, body),
            "Idempotency-Key": idempotency_key,
        }
        try:
            status = requests.post(hook.url, data=body, headers=headers, timeout=TIMEOUT).status_code
        except requests.RequestException as exc:
            status, why = None, str(exc)
        else:
            why = f"HTTP {status}"
            if 200 <= status < 300:
                return True
            if 400 <= status < 500 and status not in (408, 429):
                log.warning("webhook %s refused %s: %s", hook.url, idempotency_key, why)
                return False
        log.warning("webhook %s attempt %d of %d failed: %s", hook.url, attempt + 1, ATTEMPTS, why)
        if attempt + 1 < ATTEMPTS:
            sleep(BACKOFF * 2**attempt)
    return False

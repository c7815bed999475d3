"""The incident's time figures: when the bad release rolled out, when its trigger first held (detection), the
declaration, the decision, the mitigation and the resolution, all read from the record.

Detection is the first breach: the earliest firing alert's ``startsAt``; when no alert was recorded (a person
declared first), the bot searches Prometheus once at resolve time with ``query_range`` for when a trigger
first held for its duration, and records what it found as a ``detected`` event, so the postmortem is still
rendered from the database alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from bot.incidents import cards
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.signals.breach import TRIGGERS, earliest, hold_seconds
from bot.state.models import Incident, TimelineEvent
from bot.strategies.base import Revision, plan_from_json, revision_from_json

log = logging.getLogger(__name__)
DETECTED = "detected"
SEARCH_BEFORE = dt.timedelta(hours=6)  # with no deploy time known, how far back the search looks
MAX_POINTS = 600  # samples per series in the query_range search


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def deployed_at(incident: Incident, events: list[TimelineEvent], bad: Revision | None = None) -> dt.datetime | None:
    """The bad release's rollout: the watch's ``deploy`` event, else the live revision's creation time."""
    deploys = [e.at for e in events if e.kind == "deploy"]
    if deploys:
        return _utc(deploys[0])
    if bad is None:
        history = [revision_from_json(h) for h in (incident.assessment or {}).get("history", ())]
        bad = next((r for r in history if r and r.number == incident.current_revision), None)
    return _utc(bad.created_at) if bad and bad.created_at else None


def detection(events: list[TimelineEvent]) -> tuple[dt.datetime | None, str]:
    """The first breach and how it is known: an alert's ``startsAt``, or the recorded query_range search."""
    firing = [e.data for e in events if e.kind == "alert" and (e.data or {}).get("status") == "firing"]
    starts = [(dt.datetime.fromisoformat(d["starts_at"]), d.get("alertname", "")) for d in firing if d.get("starts_at")]
    if starts:
        at, name = min(starts)
        return _utc(at), f"alert {name}'s startsAt"
    found = [e.data for e in events if e.kind == DETECTED and (e.data or {}).get("at")]
    if found:
        d = found[0]
        return _utc(dt.datetime.fromisoformat(d["at"])), f"Prometheus query_range: {d['signal']} held {d['held']}"
    return None, ""


def record_first_breach(rt: Runtime, incident: Incident, events: list[TimelineEvent]) -> None:
    """With no alert recorded: search Prometheus for when a trigger first held, from the deploy to the
    declaration, and record it (once). Nothing found or Prometheus unreadable: nothing recorded."""
    service = rt.catalog.services.get(incident.service)
    if service is None or detection(events)[0] is not None:
        return
    end = _utc(incident.created_at)
    run = cards.latest_run(rt, incident.id)
    bad = plan_from_json(run.plan).current if run else None
    start = deployed_at(incident, events, bad) or end - SEARCH_BEFORE
    start = start - dt.timedelta(seconds=max(hold_seconds(s, service.thresholds) for s in TRIGGERS))
    step = float(max(5, math.ceil((end - start).total_seconds() / MAX_POINTS)))  # whole seconds
    series = {}
    for signal in TRIGGERS:
        points = rt.metrics.read_range(service, signal, start, end, step)
        if points is not None:
            series[signal] = points
    breach = earliest(series, service.thresholds, step)
    if breach is None:
        log.info("no trigger of %s held between %s and %s", incident.service, start, end)
        return
    held = getattr(service.thresholds, f"{breach.signal}_for", "") or service.thresholds.restarts_window
    record(
        rt,
        incident.id,
        DETECTED,
        f"First breach found in Prometheus: {breach.signal} held {held} from {breach.at:%H:%M:%S} UTC",
        data={"at": breach.at.isoformat(), "signal": breach.signal, "held": held, "source": "query_range"},
    )


def mitigated_at(incident: Incident, events: list[TimelineEvent]) -> dt.datetime | None:
    """Verified after a rollback; with no rollback (a forward fix), the resolution."""
    verified = [e.at for e in events if e.kind == "verified"]
    if verified:
        return _utc(verified[0])
    if incident.resolved_at and not [e for e in events if e.kind in ("rollback_started", "patched")]:
        return _utc(incident.resolved_at)
    return None

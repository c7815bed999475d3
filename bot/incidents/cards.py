"""The incident card: built from the record (incident, latest run, timeline) and updated in place."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy import desc, select

from bot.runtime import Runtime
from bot.signals.severity import Assessment, Severity, SignalReading
from bot.slack import views as slack_views
from bot.slack.gateway import SlackFailure
from bot.state import runs, timeline
from bot.state.incidents import update_incident
from bot.state.models import CLOSED_INCIDENT_STATUSES, Incident, RollbackRun, TimelineEvent
from bot.strategies import registry
from bot.strategies.base import Check, Revision, Verification, plan_from_json, revision_from_json, revision_to_json

log = logging.getLogger(__name__)

COUNTDOWN_EVENT = "auto_rollback"  # the automatic rollback's timeline kind (bot.incidents.auto_rollback)
COUNTDOWN_STEP = 10.0  # seconds: the countdown's figure changes at most this often
MIN_UPDATE_INTERVAL = 1.0  # chat.update is Tier 3 (about 50 a minute): progress is throttled
_update_lock = threading.Lock()


def assessment_to_json(assessment: Assessment) -> dict:
    return {
        "severity": assessment.severity.value,
        "reasons": list(assessment.reasons),
        "signals": [vars(s).copy() for s in assessment.signals],
    }


def assessment_from_json(data: dict | None) -> Assessment | None:
    if not data:
        return None
    return Assessment(
        severity=Severity(data["severity"]),
        reasons=tuple(data.get("reasons", ())),
        signals=tuple(SignalReading(**s) for s in data.get("signals", ())),
    )


def verification_to_json(verification: Verification) -> list[dict]:
    return [vars(c).copy() for c in verification.checks]


def verification_from_json(data: list[dict] | None) -> Verification | None:
    return Verification(tuple(Check(**c) for c in data)) if data else None


def latest_run(rt: Runtime, incident_id: int) -> RollbackRun | None:
    query = select(RollbackRun).where(RollbackRun.incident_id == incident_id).order_by(desc(RollbackRun.id))
    return rt.db.transaction(lambda s: s.scalars(query.limit(1)).first())


def store_revisions(rt: Runtime, incident_id: int, revisions: list[Revision], **fields) -> Incident:
    """The live revision, the rollback target ("previous") and the history, as the cluster says now."""
    current = revisions[-1] if revisions else None
    target = revisions[-2] if len(revisions) > 1 else None
    assessment = dict(fields.pop("assessment", None) or _assessment_of(rt, incident_id))
    assessment["history"] = [revision_to_json(r) for r in revisions]
    if "severity" in assessment:
        fields["severity"] = assessment["severity"]
    return update_incident(
        rt.db,
        incident_id,
        assessment=assessment,
        current_revision=current.number if current else None,
        current_image=current.image if current else None,
        target_revision=target.number if target else None,
        target_image=target.image if target else None,
        **fields,
    )


def _assessment_of(rt: Runtime, incident_id: int) -> dict:
    incident = rt.db.transaction(lambda s: s.get(Incident, incident_id))
    return incident.assessment or {}


def latest_verification(rt: Runtime, incident_id: int) -> Verification | None:
    return _verification_in(timeline.events(rt.db, incident_id))


def _verification_in(events: list[TimelineEvent]) -> Verification | None:
    for event in reversed(events):
        if event.kind in ("verified", "verification_failed", "could_not_verify") and event.data:
            return verification_from_json(event.data.get("checks"))
    return None


def countdown_of(events: list[TimelineEvent], now: dt.datetime) -> slack_views.Countdown | None:
    """The automatic rollback's grace period while it runs, in steps of ``COUNTDOWN_STEP`` from its start, so
    the card (refreshed for any reason) changes its figure at most every 10 s, as the countdown message does."""
    latest = [e for e in events if e.kind == COUNTDOWN_EVENT]
    data = (latest[-1].data or {}) if latest else {}
    if data.get("phase") != "countdown":
        return None
    deadline = dt.datetime.fromisoformat(data["deadline"])
    grace = float(data.get("grace") or (deadline - _utc(latest[-1].at)).total_seconds())
    elapsed = grace - (deadline - now).total_seconds()
    shown = grace - COUNTDOWN_STEP * max(0, int(elapsed // COUNTDOWN_STEP))
    return slack_views.Countdown(data["plan_id"], data.get("to", "the previous revision"), max(0.0, shown))


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def run_info(run: RollbackRun, verification: Verification | None, queued_behind: int = 0) -> slack_views.RunInfo:
    plan = plan_from_json(run.plan)
    running = [s.detail for s in run.steps if s.status == "running" and s.detail]
    return slack_views.RunInfo(
        status=run.status,
        requested_by=run.requested_by,
        steps=tuple(slack_views.Step(s.name.capitalize(), s.status, s.detail) for s in run.steps),
        progress_message=running[-1] if running else "",
        to_revision=plan.desired,
        verification=verification,
        error=run.error or "",
        run_id=run.id,
        strategy=run.strategy,
        controls=_controls(run),
        queued_behind=queued_behind,
    )


def _queued_behind(rt: Runtime, run: RollbackRun) -> int:
    return runs.queued_ahead(rt.db, run.id) if run.status == "pending" else 0


def _controls(run: RollbackRun) -> tuple[str, ...]:
    """The canary's step-down buttons, while it steps down."""
    stepping = any(s.name == "step down" and s.status == "running" for s in run.steps)
    if not stepping or run.status != "running" or run.control == "zero":
        return ()
    return ("resume", "zero") if run.control == "hold" else ("hold", "zero")


def _revision(number: int | None, image: str | None, history: tuple[Revision, ...]) -> Revision | None:
    for rev in history:
        if rev.number == number:
            return rev
    return Revision(number=number, image=image) if number and image else None


def card_info(rt: Runtime, incident: Incident) -> slack_views.CardInfo:
    run = latest_run(rt, incident.id)
    events = timeline.events(rt.db, incident.id)
    data = incident.assessment or {}
    history = tuple(r for r in (revision_from_json(h) for h in data.get("history", ())) if r)
    return slack_views.CardInfo(
        incident_key=incident.key,
        service=incident.service,
        namespace=incident.namespace,
        status=incident.status,
        reason=incident.reason or "",
        declared_by=incident.declared_by,
        lead=incident.lead_user_id or "",
        comms=incident.comms_user_id or "",
        decide_by=_decide_by(rt, incident, run),
        created_at=incident.created_at,
        current=_revision(incident.current_revision, incident.current_image, history),
        target=_revision(incident.target_revision, incident.target_image, history),
        assessment=assessment_from_json(data if "severity" in data else None),
        run=run_info(run, _verification_in(events), _queued_behind(rt, run)) if run else None,
        history=history,
        channel_id=incident.channel_id or "",
        check_by_hand=_check_by_hand(rt, incident.service),
        countdown=countdown_of(events, dt.datetime.now(dt.UTC)) if incident.status == "open" else None,
        status_page=_status_page(rt, incident.service, events),
    )


def _status_page(rt: Runtime, name: str, events: list[TimelineEvent]) -> slack_views.StatusPageInfo | None:
    """What the service's status page component says, as the newest ``status_page`` event recorded it."""
    service = rt.catalog.services.get(name)
    if service is None or service.status_page is None or rt.status_page is None:
        return None
    said = [e for e in events if e.kind == "status_page"]
    changed = [e for e in said if (e.data or {}).get("status")]
    last = said[-1].data or {} if said else {}
    return slack_views.StatusPageInfo(
        status=(changed[-1].data or {})["status"] if changed else "",
        error=last.get("error", ""),
        set_by=changed[-1].actor if changed else "",
    )


def _decide_by(rt: Runtime, incident: Incident, run: RollbackRun | None):
    """The decision deadline while the incident is undecided (open, no rollback yet), else None."""
    service = rt.catalog.get(incident.service)
    if service is None or incident.status != "open" or run is not None:
        return None
    return service.decision_deadlines.due_at(incident.severity, incident.created_at)


def _check_by_hand(rt: Runtime, name: str) -> str:
    """The command that shows the service's rollout (its strategy's words; "" for a service no longer listed)."""
    service = rt.catalog.services.get(name)
    if service is None:
        return ""
    return registry.check_by_hand(service.strategy, registry.spec(service.strategy).locate(service))


def card_message(rt: Runtime, incident: Incident) -> tuple[str, list[dict]]:
    info = card_info(rt, incident)
    return slack_views.fallback_text(info), slack_views.incident_card(info)


def refresh(rt: Runtime, incident_id: int, throttle: bool = False) -> None:
    """Re-render the pinned card from the record; a Slack failure is logged, never raised."""
    with _update_lock:
        now = time.monotonic()
        if throttle and now - rt.card_updated_at.get(incident_id, 0.0) < MIN_UPDATE_INTERVAL:
            return
        rt.card_updated_at[incident_id] = now
    incident = rt.db.transaction(lambda s: s.get(Incident, incident_id))
    if incident is None or not incident.card_ts or not incident.channel_id:
        return
    try:
        rt.slack.update(incident.channel_id, incident.card_ts, *card_message(rt, incident))
    except SlackFailure as exc:
        log.warning("could not update the card of %s: %s", incident.key, exc)


def open_incidents(rt: Runtime) -> list[Incident]:
    query = select(Incident).where(Incident.status.not_in(CLOSED_INCIDENT_STATUSES)).order_by(Incident.id)
    return rt.db.transaction(lambda s: list(s.scalars(query)))


def incident_in_channel(rt: Runtime, channel_id: str) -> Incident | None:
    query = select(Incident).where(Incident.channel_id == channel_id).order_by(desc(Incident.id)).limit(1)
    return rt.db.transaction(lambda s: s.scalars(query).first())

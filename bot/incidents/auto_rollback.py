"""Automatic rollback after an automatic declaration (Alertmanager, the watch after a deploy).

Per service, ``auto_rollback``: ``off`` (nothing), ``propose`` (the dry-run plan is posted for a person), or
``execute``: the plan is posted and a countdown message says "Rolling back to vX in 2:00 unless someone clicks
*Hold*"; when ``auto_rollback_grace`` ends with the plan still undecided, the bot confirms it as the
``auto-rollback`` system actor (which the catalog must list in ``rollback_allowed``). *Hold* cancels that plan,
so the plan's own conditional decision settles a Hold racing the deadline, on any replica. ``execute`` falls
back to ``propose`` with the reason when ``require_approval`` is set (a second person approves), when the
revision it goes back to was not live for ``min_good_minutes`` (not known good), or when an automatic rollback
of the service started within ``flap_guard``. The plan's safety steps (GitOps sync, backups) run as for a
person's rollback. The countdown is a periodic job (``tick``); its message is updated at most every 10 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from bot.config import ServiceConfig
from bot.config.names import duration_seconds
from bot.incidents import cards, decisions
from bot.incidents.actors import Actor, SystemActor
from bot.incidents.common import quietly, target
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state import plans, timeline
from bot.state.models import Incident, PlanRow
from bot.strategies.base import Plan, Revision, RollbackError

log = logging.getLogger(__name__)
AUTO_ROLLBACK = SystemActor("auto-rollback")
EVENT = cards.COUNTDOWN_EVENT  # timeline kind; data["phase"]: countdown | started | held | overtaken | failed
UPDATE_EVERY = cards.COUNTDOWN_STEP  # seconds between edits of the countdown message and the card
_updated: dict[int, float] = {}  # plan id -> monotonic time of the last edit (this process)


@dataclass(frozen=True)
class Choice:
    mode: str  # propose | execute
    why: str


def choose(
    service: ServiceConfig,
    history: list[Revision],
    to: Revision,
    last_started: dt.datetime | None,
    now: dt.datetime,
) -> Choice:
    """Whether ``execute`` may run, or why it only proposes (pure)."""
    if service.auto_rollback != "execute":
        return Choice("propose", "auto_rollback is propose: a person confirms")
    if service.require_approval:
        return Choice("propose", "require_approval is set: a second person approves, so I only propose")
    if last_started is not None and now - last_started < dt.timedelta(seconds=duration_seconds(service.flap_guard)):
        when = views.date(last_started)
        return Choice(
            "propose",
            f"an automatic rollback of {service.name} started at {when}, within flap_guard "
            f"({service.flap_guard}): a person decides this time",
        )
    live = live_minutes(history, to)
    if live is None:
        return Choice("propose", f"I can't tell how long {to.words} was live, so it is not known good")
    if live < service.min_good_minutes:
        return Choice(
            "propose",
            f"{to.words} was live only {live:.0f} min, less than min_good_minutes "
            f"({service.min_good_minutes}): not known good",
        )
    return Choice("execute", f"{to.words} was live {live:.0f} min before the bad release (known good)")


def live_minutes(history: list[Revision], to: Revision) -> float | None:
    """How long ``to`` was live: from its rollout to the next revision's."""
    later = [r for r in history if r.number > to.number and r.created_at]
    if not to.created_at or not later:
        return None
    until = min(r.created_at for r in later)
    return (until - to.created_at).total_seconds() / 60


def begin(rt: Runtime, incident: Incident, service: ServiceConfig) -> None:
    """After an automatic declaration: post the plan, then count down (execute) or leave it to people."""
    if service.auto_rollback == "off" or not incident.channel_id:
        return
    plan = decisions.request_rollback(rt, ActionValue(incident.key), AUTO_ROLLBACK)
    row = plans.latest_shown(rt.db, incident.id)
    if plan is None or plan.desired is None or plan.skipped or row is None:
        record(
            rt, incident.id, "note", "Automatic rollback: no plan to run (see the plan message)", actor=AUTO_ROLLBACK
        )
        return
    try:
        history = rt.strategy_for(service).history(target(service))
    except RollbackError as exc:
        history = []
        log.warning("auto-rollback: cannot read the history of %s: %s", service.name, exc)
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(seconds=duration_seconds(service.flap_guard))
    started = [e.at for e in timeline.of_service(rt.db, service.name, EVENT, since) if e.data.get("phase") == "started"]
    choice = choose(service, history, plan.desired, started[-1] if started else None, now)
    if choice.mode == "propose":
        text = f"Automatic rollback proposed, not executed: {choice.why}. Confirm or cancel the plan above."
        record(rt, incident.id, EVENT, text, actor=AUTO_ROLLBACK, data={"phase": "proposed", "plan_id": row.id})
        quietly(rt.slack.post, incident.channel_id, text)
        return
    _count_down(rt, incident, service, plan, row, choice.why)


def _count_down(rt: Runtime, incident: Incident, service: ServiceConfig, plan: Plan, row: PlanRow, why: str) -> None:
    grace = duration_seconds(service.auto_rollback_grace)
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=grace)
    text, blocks = views.auto_rollback_countdown(incident.key, row.id, plan.desired.words, grace, why)
    ts = rt.slack.post(incident.channel_id, text, blocks)
    _updated[row.id] = time.monotonic()
    record(
        rt,
        incident.id,
        EVENT,
        f"Automatic rollback to {plan.desired.words} at {deadline:%H:%M:%S} UTC unless someone holds it: {why}",
        actor=AUTO_ROLLBACK,
        data={
            "phase": "countdown",
            "plan_id": row.id,
            "deadline": deadline.isoformat(),
            "grace": grace,
            "ts": ts,
            "to": plan.desired.words,
            "why": why,
        },
    )
    cards.refresh(rt, incident.id)


def tick(rt: Runtime) -> None:
    """The periodic job: each running countdown is updated, ended by a decision, or carried out."""
    for incident, event in timeline.newest_of_kind_open(rt.db, EVENT):
        if (event.data or {}).get("phase") == "countdown":
            try:
                _tick_one(rt, incident, event.data)
            except Exception:
                log.exception("auto-rollback countdown of %s failed this pass", incident.key)


def _tick_one(rt: Runtime, incident: Incident, data: dict) -> None:
    row = plans.get(rt.db, data["plan_id"])
    if row is None:
        return
    if row.status != "shown":  # someone held (cancelled), confirmed, or asked for another plan first
        _end(rt, incident, data, *_decided_by_people(row))
        return
    if incident.status != "open":  # e.g. the team chose a forward fix: theirs is the decision
        state = decisions.STATE_WORDS.get(incident.status, incident.status)
        _end(rt, incident, data, "overtaken", f"No automatic rollback: {state}. Decide on the pinned card.")
        return
    left = (dt.datetime.fromisoformat(data["deadline"]) - dt.datetime.now(dt.UTC)).total_seconds()
    if left > 0:
        if time.monotonic() - _updated.get(row.id, 0.0) >= UPDATE_EVERY:
            _updated[row.id] = time.monotonic()
            text, blocks = views.auto_rollback_countdown(incident.key, row.id, data["to"], left, data["why"])
            quietly(rt.slack.update, incident.channel_id, data["ts"], text, blocks)
            cards.refresh(rt, incident.id)
        return
    decisions.confirm_rollback(rt, ActionValue(incident.key, None, row.id), AUTO_ROLLBACK)
    row = plans.get(rt.db, row.id)
    if row is not None and row.status == "confirmed" and row.decided_by == AUTO_ROLLBACK.id:
        words = f"Rolling back to {data['to']} now, as system: auto-rollback: the grace period ended with no *Hold*."
        _end(rt, incident, data, "started", f":arrow_forward: {words} Progress shows on the pinned card.")
    elif row is not None and row.status != "shown":
        _end(rt, incident, data, *_decided_by_people(row))
    else:
        _end(
            rt,
            incident,
            data,
            "failed",
            ":warning: The automatic rollback could not start (the bot's log says "
            "why). The plan is still posted: confirm it, or decide on the card.",
        )


def _decided_by_people(row: PlanRow) -> tuple[str, str]:
    who = views.user(row.decided_by) if row.decided_by else "someone"
    if row.status == "cancelled":
        return "held", f":raised_hand: Held by {who}: I will not roll back automatically. Decide on the pinned card."
    if row.status == "confirmed":
        return "overtaken", f":arrow_forward: {who} confirmed the rollback before the countdown ended."
    return "overtaken", "A newer plan was posted: the automatic rollback is off for this incident."


def _end(rt: Runtime, incident: Incident, data: dict, phase: str, text: str) -> None:
    """Record how the countdown ended (once) and replace its message, Hold button and all."""
    _updated.pop(data["plan_id"], None)
    record(rt, incident.id, EVENT, text, actor=AUTO_ROLLBACK, data={**data, "phase": phase})
    quietly(rt.slack.update, incident.channel_id, data["ts"], *views.auto_rollback_ended(text))
    cards.refresh(rt, incident.id)


def hold(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """*Hold*: cancel the plan the countdown would confirm (who may cancel a plan may hold)."""
    decisions.cancel_rollback(rt, value, actor)

"""Escalation pages (the catalog's ``escalation:`` matrix): *Page escalation* and ``/rollback page [situation]``
page a situation's first person (invited and pinged, with *I'm on it*); the ``escalation pages`` job pings again
and pages one step up when nobody acknowledged within the response time. Every page and acknowledgement is on the
timeline (``paged``, ``page_acked``: the postmortem's time to acknowledge). With PagerDuty configured each page is
also an Events API trigger, and the incident's resolution resolves them (``bot.incidents.pagerduty``)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update

from bot.config import ServiceConfig
from bot.config.escalation import Situation
from bot.incidents import pagerduty
from bot.incidents.actors import Actor
from bot.incidents.common import incident_for, now, quietly, same_run, still_current
from bot.incidents.events import record
from bot.incidents.permissions import Action, authorize
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.views import ActionValue
from bot.state.models import Incident, Page
from bot.state.states import OPEN

log = logging.getLogger(__name__)


def _matrix(actor: Actor, incident: Incident, service: ServiceConfig) -> None:
    rows = [(s.name, s.page, s.respond_within) for s in service.escalation]
    actor.reply(f"Page escalation for {incident.key}", views.matrix_blocks(incident.key, rows))


def _no_matrix(actor: Actor, service: ServiceConfig) -> None:
    actor.reply(
        f"No escalation is configured for {service.name} (the catalog's `escalation:`); page your on-call lead by "
        "hand. Nothing was changed."
    )


def offer(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """The failure card's *Page escalation*: one situation pages at once; several are offered privately."""
    clicked = still_current(rt, value, actor, Action.PAGE_ESCALATION, same_run)
    if clicked is None:
        return
    if not clicked.service.escalation:
        return _no_matrix(actor, clicked.service)
    if len(clicked.service.escalation) == 1:
        return page(rt, clicked.incident, clicked.service, clicked.service.escalation[0], actor)
    _matrix(actor, clicked.incident, clicked.service)


def command(rt: Runtime, situation: str, actor: Actor) -> None:
    """``/rollback page [situation]`` in the incident channel."""
    incident = incident_for(rt, "", actor)
    service = authorize(rt, incident, actor, Action.PAGE_ESCALATION) if incident else None
    if service is None:
        return
    if not service.escalation:
        return _no_matrix(actor, service)
    chosen = next((s for s in service.escalation if s.name == situation), None)
    if chosen is None:
        if situation:
            names = ", ".join(f"`{s.name}`" for s in service.escalation)
            actor.reply(f"`{views.escape(situation[:40])}` is not a situation of {service.name} ({names}).")
        return _matrix(actor, incident, service)
    page(rt, incident, service, chosen, actor)


def choose(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """A *Page* button of the matrix (its index in the service's matrix)."""
    incident = incident_for(rt, value.incident_key, actor)
    service = authorize(rt, incident, actor, Action.PAGE_ESCALATION) if incident else None
    if service is None:
        return
    index = value.revision if value.revision is not None else -1
    if not 0 <= index < len(service.escalation):
        actor.reply("That escalation entry is no longer in the catalog. Nothing was changed; try `/rollback page`.")
        return
    page(rt, incident, service, service.escalation[index], actor)


def page(rt: Runtime, incident: Incident, service: ServiceConfig, situation: Situation, actor: Actor) -> None:
    if not incident.is_open:
        actor.reply(f"{incident.key} is {incident.status}: nobody was paged.")
        return
    if _open_page(rt, incident.id, situation.name) is not None:
        actor.reply(f"{situation.name} is already paged for {incident.key} and not acknowledged yet.")
        return
    at = now()
    row = Page(
        incident_id=incident.id,
        situation=situation.name,
        chain=list(situation.page),
        step=0,
        respond_within_s=situation.respond_within,
        paged_by=actor.id,
        paged_at=at,
        due_at=at + dt.timedelta(seconds=situation.respond_within),
    )
    rt.db.transaction(lambda s: (s.add(row), s.flush()))
    _notify(rt, incident, row, [situation.page[0]], actor.id, again=False)
    pagerduty.trigger(rt, incident, situation.name, f"{incident.key} {incident.service}: {situation.name}")


def _open_page(rt: Runtime, incident_id: int, situation: str) -> Page | None:
    query = select(Page).where(Page.incident_id == incident_id, Page.situation == situation, Page.acked_at.is_(None))
    return rt.db.transaction(lambda s: s.scalars(query).first())


def _notify(rt: Runtime, incident: Incident, row: Page, paged: list[str], by: str, again: bool) -> None:
    not_invited = rt.slack.invite(incident.channel_id, paged) if incident.channel_id else []
    blocks = views.page_blocks(incident.key, row.situation, paged, by, row.respond_within_s, row.id, again)
    names = " ".join(views.user(p) for p in paged)
    quietly(rt.slack.post, incident.channel_id, f"Paged {names} for {incident.key} ({row.situation})", blocks)
    what = "paged again, one step up" if again else "paged"
    record(
        rt,
        incident.id,
        "paged",
        f"{row.situation}: {what} {names}" + ("" if again else f" (by {views.user(by)})"),
        data={
            "page": row.id,
            "situation": row.situation,
            "step": row.step,
            "paged": paged,
            "again": again,
            "not_invited": not_invited,
        },
    )


def ack(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """*I'm on it*: the first acknowledgement counts (a conditional UPDATE); anyone paged or a responder."""
    incident = incident_for(rt, value.incident_key, actor)
    row = rt.db.transaction(lambda s: s.get(Page, value.plan_id)) if incident and value.plan_id else None
    if incident is None or row is None or row.incident_id != incident.id:
        return actor.reply("I can't find that page. Nothing was changed.") if incident else None
    if actor.id not in row.chain[: row.step + 1] and not authorize(rt, incident, actor, Action.PAGE_ESCALATION):
        return
    at = now()

    def claim(session) -> bool:
        done = session.execute(
            update(Page).where(Page.id == row.id, Page.acked_at.is_(None)).values(acked_by=actor.id, acked_at=at)
        )
        return done.rowcount == 1

    if not rt.db.transaction(claim):
        return actor.reply(f"{row.situation} was already acknowledged. Nothing was changed.")
    took = int((at - _utc(row.paged_at)).total_seconds())
    record(
        rt,
        incident.id,
        "page_acked",
        f"{actor.mention} acknowledged the {row.situation} page after {took // 60}m {took % 60}s",
        actor=actor,
        data={"page": row.id, "situation": row.situation, "seconds": took},
    )
    quietly(rt.slack.post, incident.channel_id, f":white_check_mark: {actor.mention} is on it ({row.situation}).")
    pagerduty.acknowledge(rt, incident, row.situation)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def step_up_due(rt: Runtime, at: dt.datetime | None = None) -> int:
    """The ``escalation pages`` job: each unacknowledged page past its response time pings again, one step up
    (the last person of the row stays paged); each step is claimed once by a conditional UPDATE."""
    at = at or now()
    query = (
        select(Page, Incident)
        .join(Incident, Incident.id == Page.incident_id)
        .where(Page.acked_at.is_(None), Page.due_at <= at, Incident.status.in_([str(s) for s in OPEN]))
    )
    stepped = 0
    for row, incident in rt.db.transaction(lambda s: list(s.execute(query).tuples())):
        step = min(row.step + 1, len(row.chain) - 1)

        def claim(session, row=row, step=step) -> bool:
            done = session.execute(
                update(Page)
                .where(Page.id == row.id, Page.step == row.step, Page.acked_at.is_(None), Page.due_at == row.due_at)
                .values(step=step, due_at=at + dt.timedelta(seconds=row.respond_within_s))
            )
            return done.rowcount == 1

        if rt.db.transaction(claim):
            row.step = step
            _notify(rt, incident, row, list(dict.fromkeys(row.chain[: step + 1])), row.paged_by, again=True)
            stepped += 1
    return stepped


def resolved(rt: Runtime, incident: Incident) -> None:
    """The incident is resolved: PagerDuty resolves each situation paged."""
    query = select(Page.situation).where(Page.incident_id == incident.id)
    pagerduty.resolve_all(rt, incident, list(rt.db.transaction(lambda s: list(s.scalars(query)))))


def acknowledgements(events, name) -> tuple[str, ...]:
    """The postmortem's time to acknowledge, one line per page: ``database: Dana after 2m 5s (paged 14:02:11 UTC)``,
    or that nobody acknowledged it."""
    paged = {}
    acked = {}
    for e in events:
        data = e.data or {}
        if e.kind == "paged" and not data.get("again"):
            paged[data.get("page")] = (data.get("situation", ""), e.at)
        elif e.kind == "page_acked":
            acked[data.get("page")] = (name(e.actor), data.get("seconds", 0))
    lines = []
    for page_id, (situation, at) in paged.items():
        when = f"paged {at:%H:%M:%S} UTC"
        if page_id in acked:
            who, took = acked[page_id]
            lines.append(f"{situation}: {who} after {took // 60}m {took % 60}s ({when})")
        else:
            lines.append(f"{situation}: not acknowledged ({when})")
    return tuple(lines)

"""Declaring an incident: record it, open its channel, assess it, post and pin the card, announce it."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from bot import logs, telemetry
from bot.config import ServiceConfig
from bot.incidents import cards, status_page
from bot.incidents.actors import Actor, is_system
from bot.incidents.common import quietly, target
from bot.incidents.comms import News, announce, update_period
from bot.incidents.events import record
from bot.runtime import Runtime
from bot.signals.severity import DECLARATIONS, assess
from bot.slack import views
from bot.slack.gateway import Channel, SlackFailure
from bot.state.incidents import IncidentAlreadyOpen, create_incident, update_incident
from bot.state.models import Incident
from bot.strategies.base import RollbackError


def service_or_explain(rt: Runtime, name: str, actor: Actor) -> ServiceConfig | None:
    service = rt.catalog.get(name)
    if service is None:
        known = ", ".join(f"`{s}`" for s in sorted(rt.catalog.services)) or "none yet"
        actor.error(
            f"I don't know a service called `{name}`",
            f"It is not in the services catalog. Known services: {known}.",
            "Nothing was changed. Check the spelling, or ask the service owners to add it to the catalog.",
        )
    return service


def _point_to(existing: Incident, service: str, actor: Actor) -> Incident:
    where = f"<#{existing.channel_id}>" if existing.channel_id else "its channel (being opened now)"
    actor.reply(
        f"{existing.key} is already open for {service} in {where}. Join it there; I did not open a second incident."
    )
    return existing


def declare(rt: Runtime, name: str, reason: str, actor: Actor, declared: tuple[str, ...] = ()) -> Incident | None:
    """Open the incident. Anyone may declare, a person or a system actor; one open incident per service (the
    database enforces it). A person leads it and is invited; a system's incident has no lead until one is set."""
    service = service_or_explain(rt, name, actor)
    if service is None:
        return None
    try:
        incident = create_incident(
            rt.db,
            service.name,
            service.namespace,
            reason,
            actor.id,
            declared=declared,
            next_reminder_at=dt.datetime.now(dt.UTC) + update_period(rt.catalog, service),
            lead=actor.id if actor.kind == "slack" else None,  # a system's incident never shows it as its lead
        )
    except IncidentAlreadyOpen as exc:
        return _point_to(exc.incident, service.name, actor)
    logs.bind(incident=incident.key)
    said = "".join(f"; declared: {DECLARATIONS[d]}" for d in declared if d in DECLARATIONS)
    record(
        rt,
        incident.id,
        "declared",
        f"Incident declared: {reason or 'no reason given'}{said}",
        actor=actor,
        data={"reason": reason, "declared": list(declared)},
    )
    actor.reply(f"Declared {incident.key} for {service.name}. Opening the incident channel and reading its health now.")
    opened = _open_channel(rt, incident, service, reason, actor)
    telemetry.incident_declared(opened.incident.severity, system=is_system(actor.id))
    if opened.channel is None:
        return opened.incident
    return _post_card(rt, opened, actor)


class Opened(NamedTuple):
    incident: Incident  # assessed
    channel: Channel | None  # None: Slack refused to create it
    invited: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def _open_channel(rt: Runtime, incident: Incident, service: ServiceConfig, reason: str, actor: Actor) -> Opened:
    """Create the channel, invite the people and set its topic while the health is read."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="declare") as pool:
        assessing = pool.submit(assess_incident, rt, incident, service)
        try:
            channel = rt.slack.create_channel(
                f"inc-{incident.created_at:%Y%m%d}-{service.name}", private=service.private_channel
            )
        except SlackFailure as exc:
            incident = assessing.result()
            record(rt, incident.id, "note", f"Could not create the incident channel: {exc.error}")
            actor.error(
                f"{incident.key} is recorded, but Slack refused to create its channel",
                exc.error,
                "Create a channel by hand and invite the owners; `/rollback status` shows the incident "
                "and I keep its timeline.",
            )
            return Opened(incident, None)
        lead = actor.id if actor.kind == "slack" else None  # a system's incident waits for a person to lead it
        update_incident(rt.db, incident.id, channel_id=channel.id, channel_name=channel.name, lead_user_id=lead)
        invited = tuple(u for u in (lead, *service.owners) if u)
        refused = tuple(rt.slack.invite(channel.id, invited))
        quietly(
            rt.slack.set_topic,
            channel.id,
            f"{incident.key} · {service.name} · {reason or 'rollback under consideration'}",
        )
        return Opened(assessing.result(), channel, invited, refused)


def _post_card(rt: Runtime, opened: Opened, actor: Actor) -> Incident:
    """Post and pin the card, record the channel, then announce the incident."""
    incident, channel = opened.incident, opened.channel
    try:
        card_ts = rt.slack.post(channel.id, *cards.card_message(rt, incident))
    except SlackFailure as exc:
        record(rt, incident.id, "note", f"Could not post the incident card: {exc.error}")
        actor.error(
            f"{incident.key} is open in <#{channel.id}>, but Slack refused its card",
            exc.error,
            "Type `/rollback status` there in a moment; the card is posted again when the incident changes.",
        )
        return incident
    incident = update_incident(rt.db, incident.id, card_ts=card_ts)
    if status_page.pending(rt, incident):  # set while the card was on its way: its refresh found no card yet
        cards.refresh(rt, incident.id)
    quietly(rt.slack.pin, channel.id, card_ts)
    record(
        rt,
        incident.id,
        "channel",
        f"Incident channel #{channel.name} opened",
        data={"channel_id": channel.id, "invited": list(opened.invited), "not_invited": list(opened.refused)},
    )
    announce(rt, incident, News.DECLARED, views.announcement(cards.card_info(rt, incident)))
    return incident


def assess_incident(rt: Runtime, incident: Incident, service: ServiceConfig) -> Incident:
    """Read the signals and the rollout history in parallel, rate the severity, record both."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="assess") as pool:
        readings = pool.submit(rt.metrics.read, service)
        history = pool.submit(lambda: rt.strategy_for(service).history(target(service)))
        assessment = assess(readings.result(), service.thresholds, declared=incident.declared or ())
        try:
            revisions = history.result()
        except RollbackError as exc:
            revisions = []
            record(rt, incident.id, "note", f"Could not read the rollout history: {exc}")
    incident = cards.store_revisions(rt, incident.id, revisions, assessment=cards.assessment_to_json(assessment))
    current = revisions[-1] if revisions else None
    record(
        rt,
        incident.id,
        "assessed",
        f"Severity {assessment.severity.value}: " + ("; ".join(assessment.reasons) or "no threshold breached"),
        data={
            "severity": assessment.severity.value,
            "reasons": list(assessment.reasons),
            "signals": {s.name: s.value for s in assessment.signals},
            "current": current.image if current else None,
        },
    )
    return incident

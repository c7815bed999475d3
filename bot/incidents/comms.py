"""Keeping people informed: announcements, stakeholder updates and reminders to the comms lead (else the lead)."""

from __future__ import annotations

import datetime as dt
import enum
import logging

from sqlalchemy import select, update

from bot import reports
from bot.incidents import status_page
from bot.incidents.actors import Actor
from bot.incidents.common import incident_for, now, open_view
from bot.incidents.events import record
from bot.incidents.permissions import Action, authorize
from bot.reports import render_status_update
from bot.runtime import Runtime
from bot.signals.severity import Severity
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.slack.views import ActionValue
from bot.state.incidents import get_incident
from bot.state.models import Incident, StatusUpdate
from bot.state.states import OPEN

log = logging.getLogger(__name__)


def update_period(catalog, service, chosen_seconds: int | None = None) -> dt.timedelta:
    """How often a stakeholder update is due: a status update's choice, else the service's ``update_every``, else
    the catalog's ``reminder_minutes`` (30 by default)."""
    if chosen_seconds:
        return dt.timedelta(seconds=chosen_seconds)
    if service is not None and service.update_every:
        return dt.timedelta(seconds=service.update_every)
    return dt.timedelta(minutes=catalog.reminder_minutes)


class News(enum.StrEnum):
    """What an announcement is about."""

    DECLARED = "declared"
    UPDATE = "update"  # a stakeholder update
    RESOLVED = "resolved"  # or the postmortem's summary


def public_news(news: News, private: bool) -> bool | None:
    """The one rule for the announcements channel: True, the whole news; None, only the private notice
    ("a private incident was declared for <service>, severity X"); False, nothing. A private incident's
    reason, updates and resolution stay in its channel."""
    if not private:
        return True
    return None if news is News.DECLARED else False


def announce(rt: Runtime, incident: Incident, news: News, blocks: list[dict]) -> None:
    """Post ``news`` to the announcements channel as ``public_news`` allows; a failure there must not stop the
    incident. An incident whose service left the catalog counts as private: nobody can say it is not."""
    channel = rt.catalog.announcements_channel
    service = rt.catalog.get(incident.service)
    public = public_news(news, service is None or service.private_channel)
    if not channel or public is False:
        return
    if public is None:
        severity = Severity(incident.severity) if incident.severity else None
        blocks = views.private_announcement(incident.key, incident.service, severity)
    try:
        rt.slack.post(rt.slack.channel_id(channel), f"{incident.key}: {incident.service}", blocks)
    except SlackFailure as exc:
        log.warning("announcement for %s failed: %s", incident.key, exc)
        record(rt, incident.id, "note", f"Could not post to {channel}: {exc.error}")


def open_status_update(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    incident = incident_for(rt, value.incident_key, actor)
    if incident is None or not authorize(rt, incident, actor, Action.STATUS_UPDATE):
        return
    if not incident.is_open:
        actor.reply(f"{incident.key} is {incident.status}: it takes no more updates.")
        return
    open_view(rt, actor, views.status_update_modal(incident.key), "status update")


def post_status_update(rt: Runtime, key: str, actor: Actor, form: views.StatusUpdateForm) -> None:
    """A stakeholder update, to the incident channel and the announcements channel; sets the next reminder."""
    incident = get_incident(rt.db, key)
    if incident is None or not incident.channel_id:
        actor.error("I can't find that incident", f"There is no incident {key}.", "Nothing was posted.")
        return
    if not authorize(rt, incident, actor, Action.STATUS_UPDATE):
        return
    at = now()
    chosen = form.next_update_minutes  # None: the usual interval; 0: "no more updates"
    period = update_period(rt.catalog, rt.catalog.get(incident.service), (chosen or 0) * 60 or incident.update_every_s)
    next_at = None if chosen == 0 else at + period
    rendered = render_status_update(
        reports.StatusUpdateInput(
            incident_key=incident.key,
            service=incident.service,
            status=form.status,
            summary=form.summary,
            author=actor.id,
            posted_at=at,
            next_steps=form.next_steps,
            next_update_at=next_at,
            severity=Severity(incident.severity) if incident.severity else None,
            channel_id=incident.channel_id,
            lead=incident.lead_user_id or "",
            comms=incident.comms_user_id or "",
        )
    )
    blocks = views.status_update_blocks(rendered)
    ts = rt.slack.post(incident.channel_id, f"Update on {incident.key}: {form.status}", blocks)

    def store(session) -> None:
        session.add(StatusUpdate(incident_id=incident.id, at=at, author=actor.id, text=rendered, channel_ts=ts))
        # The form's "next update in N min" (or "no more updates") is the next reminder.
        # and its interval the one of the reminders after it
        interval = {"update_every_s": chosen * 60} if chosen else {}
        session.execute(update(Incident).where(Incident.id == incident.id).values(next_reminder_at=next_at, **interval))

    rt.db.transaction(store)
    record(
        rt,
        incident.id,
        "status_update",
        f"{form.status}: {form.summary}",
        actor=actor,
        data={"ts": ts, "next_update_minutes": form.next_update_minutes},
    )
    announce(rt, incident, News.UPDATE, blocks)


def remind_due(rt: Runtime, at: dt.datetime | None = None) -> int:
    """Ask each open incident's lead for an update when its reminder is due; returns reminders sent.

    Claiming a reminder is a conditional UPDATE that moves ``next_reminder_at`` one period on,
    so across every replica and worker exactly one reminder goes out per period.
    """
    at = at or now()
    due = select(Incident.id, Incident.service, Incident.update_every_s).where(
        Incident.status.in_([str(s) for s in OPEN]), Incident.next_reminder_at <= at, Incident.channel_id.is_not(None)
    )
    sent = 0
    for incident_id, name, chosen in rt.db.transaction(lambda s: list(s.execute(due))):
        every = update_period(rt.catalog, rt.catalog.get(name), chosen)

        def claim(session, incident_id=incident_id, every=every) -> Incident | None:
            claimed = session.execute(  # still due: a worker that read it after another's claim finds it not due
                update(Incident)
                .where(Incident.id == incident_id, Incident.next_reminder_at <= at)
                .values(next_reminder_at=at + every)
                .execution_options(synchronize_session=False)
            )
            return session.get(Incident, incident_id, populate_existing=True) if claimed.rowcount == 1 else None

        incident = rt.db.transaction(claim)
        if incident is None:
            continue  # another worker sent this period's reminder
        lead = incident.comms_user_id or incident.lead_user_id or incident.declared_by  # comms first
        last = max((u.at for u in incident.status_updates), default=incident.created_at)
        minutes = int((at - last).total_seconds() // 60)
        text = (
            f":alarm_clock: {views.user(lead)}, {incident.key} has had no stakeholder update for {minutes} minutes. "
            "Please post one: `/rollback update` (the form also lets you set when the next one is due)."
        )
        try:
            rt.slack.post(incident.channel_id, text)
        except SlackFailure as exc:
            log.warning("reminder for %s failed: %s", incident.key, exc)
            continue
        record(rt, incident.id, "reminder", f"Reminded {views.user(lead)} to post an update")
        sent += 1
    return sent


def set_status_page(rt: Runtime, value: ActionValue, actor: Actor) -> None:
    """The card's *Status page* select: who may post status updates may set it."""
    incident = incident_for(rt, value.incident_key, actor)
    if incident is None or not authorize(rt, incident, actor, Action.STATUS_UPDATE):
        return
    service = rt.catalog.services.get(incident.service)
    if service is None or service.status_page is None or rt.status_page is None:
        actor.reply(f"{incident.service} has no status page component configured. Nothing was changed.")
        return
    if value.revision is None or not 0 <= value.revision < len(status_page.ORDER):
        actor.reply("I don't know that status page status. Nothing was changed.")
        return
    status = status_page.ORDER[value.revision]
    if status_page.set_now(rt, incident.id, service.status_page.component, status, "set from the card", actor):
        actor.reply(f"The status page now says *{status_page.STATUSES[status]}* for {incident.service}.")
    else:
        actor.reply("The status page did not take the change; the card says why. Nothing else was changed.")

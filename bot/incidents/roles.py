"""The incident's roles (``/rollback lead @user``, ``/rollback comms @user``) and what people add to its timeline
by hand (``/rollback note <text>``, a 📌 on a message of the incident channel). Each is a human entry of the
postmortem's timeline (``data["human"]``); an unpinned message is recorded as such, never erased (the timeline
is append-only): the postmortem leaves out a pin that was taken back."""

from __future__ import annotations

import datetime as dt
import logging

from bot.incidents import cards
from bot.incidents.actors import Actor
from bot.incidents.common import incident_for, quietly
from bot.incidents.events import capture_names, record
from bot.incidents.parse import ROLES
from bot.incidents.permissions import Action, authorize
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.state import timeline
from bot.state.incidents import update_incident
from bot.state.models import Incident

log = logging.getLogger(__name__)

PIN = "pushpin"  # the 📌 reaction
_COLUMN = {"lead": "lead_user_id", "comms": "comms_user_id"}


def _open_incident(rt: Runtime, actor: Actor, action: Action, what: str) -> Incident | None:
    incident = incident_for(rt, "", actor)
    if incident is None or not authorize(rt, incident, actor, action):
        return None
    if not incident.is_open:
        actor.error(f"I can't {what} now", f"{incident.key} is {incident.status}.", "Nothing was changed.")
        return None
    return incident


def assign(rt: Runtime, role: str, user_id: str, actor: Actor) -> None:
    """Make ``user_id`` the incident's lead or comms lead: invited, told in the channel, shown on the card."""
    words = ROLES[role]
    incident = _open_incident(rt, actor, Action.ASSIGN_ROLE, f"assign the {words}")
    if incident is None:
        return
    before = getattr(incident, _COLUMN[role])
    if before == user_id:
        actor.reply(f"{views.user(user_id)} is already the {words} of {incident.key}. Nothing was changed.")
        return
    update_incident(rt.db, incident.id, **{_COLUMN[role]: user_id})
    not_invited = rt.slack.invite(incident.channel_id, [user_id]) if incident.channel_id else []
    was = f" (was {views.user(before)})" if before else ""
    record(
        rt,
        incident.id,
        "role",
        f"{actor.mention} made {views.user(user_id)} the {words}{was}",
        actor=actor,
        data={"role": role, "user": user_id, "before": before, "not_invited": not_invited, "human": True},
    )
    duty = "stakeholder update reminders come to you" if role == "comms" else "you lead the response"
    quietly(
        rt.slack.post,
        incident.channel_id,
        f":busts_in_silhouette: {views.user(user_id)} is now the {words} of {incident.key}{was}, "
        f"set by {actor.mention}: {duty}.",
    )
    cards.refresh(rt, incident.id)


def note(rt: Runtime, text: str, actor: Actor) -> None:
    """``/rollback note <text>``: a human entry of the timeline."""
    incident = _open_incident(rt, actor, Action.NOTE, "add a note")
    if incident is None:
        return
    record(rt, incident.id, "note", text, actor=actor, data={"human": True, "source": "note"})
    actor.reply(f"Added to the timeline of {incident.key}: {views.escape(text)}")


def pinned(rt: Runtime, channel_id: str, ts: str, actor: Actor) -> None:
    """A 📌 on a message of an incident channel: the message, its author and time, on the timeline (once)."""
    incident = cards.incident_in_channel(rt, channel_id)
    if incident is None or not authorize(rt, incident, actor, Action.NOTE):
        return  # a pin elsewhere is nobody's business; a refused one is answered and audited
    if _live_pin(rt, incident.id, ts) is not None:
        return  # pinned again by a second person: one entry
    try:
        message = rt.slack.message(channel_id, ts)
    except SlackFailure as exc:
        actor.error("I could not read that message", f"Slack said {exc.error}.", "Nothing was added; try again.")
        return
    if message is None:
        actor.error("I could not find that message", "It may have been deleted.", "Nothing was added.")
        return
    author = message.get("user") or message.get("bot_id") or ""
    said = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    try:
        capture_names(rt, author)  # the postmortem names who said it
    except SlackFailure as exc:
        log.info("no name for %s: %s", author, exc)
    record(
        rt,
        incident.id,
        "pinned",
        message.get("text") or "(a message without text)",
        actor=actor,
        data={"ts": ts, "author": author, "said_at": said.isoformat(), "human": True, "source": "pin"},
    )


def unpinned(rt: Runtime, channel_id: str, ts: str, actor: Actor) -> None:
    """The 📌 taken off: its entry leaves the postmortem's timeline (recorded, as everything is)."""
    incident = cards.incident_in_channel(rt, channel_id)
    if incident is None or _live_pin(rt, incident.id, ts) is None:
        return
    if not authorize(rt, incident, actor, Action.NOTE):
        return
    record(rt, incident.id, "unpinned", f"{actor.mention} took the 📌 off a message", actor=actor, data={"ts": ts})


def _live_pin(rt: Runtime, incident_id: int, ts: str):
    """The ``pinned`` event of message ``ts`` that no later ``unpinned`` took back, or None."""
    live = None
    for event in timeline.events(rt.db, incident_id):
        if event.kind in ("pinned", "unpinned") and (event.data or {}).get("ts") == ts:
            live = event if event.kind == "pinned" else None
    return live


def taken_back(events) -> set[int]:
    """The ids of ``pinned`` events a later ``unpinned`` took back (the postmortem leaves them out)."""
    live: dict[str, int] = {}
    gone: set[int] = set()
    for event in events:
        ts = (event.data or {}).get("ts")
        if event.kind == "pinned":
            live[ts] = event.id
        elif event.kind == "unpinned" and ts in live:
            gone.add(live.pop(ts))
    return gone

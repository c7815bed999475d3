"""Recording timeline events: who acted (a person or a system), with people's names captured as they act.

The postmortem and ``rollback-bot report`` are rendered from the database alone, so the
display name of everyone who appears in an event is looked up once, when the event is
recorded, and kept in the ``people`` table.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.incidents import status_page, webhooks
from bot.incidents.actors import Actor, is_system
from bot.runtime import Runtime
from bot.state import people, timeline
from bot.state.models import Incident, TimelineEvent

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@([A-Z0-9_]+)>")


def capture_names(rt: Runtime, *user_ids: str | None) -> None:
    """Make sure each user's display name is stored (one Slack look-up per person, ever)."""
    wanted = {u for u in user_ids if u and u != "bot" and not is_system(u)} - rt.known_people
    if not wanted:
        return
    stored = people.known(rt.db, wanted)
    for user in wanted - set(stored):
        name = rt.slack.user_name(user)
        if name != user:  # Slack knew them; an unknown id is looked up again next time
            people.remember(rt.db, user, name)
            stored[user] = name
    rt.known_people.update(stored)


def record(
    rt: Runtime,
    incident_id: int,
    kind: str,
    text: str,
    actor: Actor | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append an event by ``actor`` (None: the bot itself); the event's data says which kind of actor it was."""
    if actor is not None:
        data = {**(data or {}), "actor": actor.data}
    try:
        capture_names(rt, actor.id if actor else None, *MENTION.findall(text))
    except Exception:  # a name is nice to have; the event itself must never be lost for it
        log.exception("could not capture the names in a %s event", kind)
    event = timeline.record(rt.db, incident_id, kind, text, actor=actor.id if actor else "bot", data=data)
    if (rt.catalog.webhooks and kind in webhooks.STATE_CHANGES) or kind in status_page.MOVES:
        try:
            incident = rt.db.transaction(lambda s: s.get(Incident, incident_id))
            webhooks.on_event(rt.catalog.webhooks, incident, event)
            status_page.on_event(rt, incident, kind)
        except Exception:  # a receiver's or the status page's trouble is never the incident's
            log.exception("could not hand a %s event to the webhooks and the status page", kind)
    return event

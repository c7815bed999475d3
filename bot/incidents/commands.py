"""``/rollback …``: route the parsed command to the lifecycle; answer help, status and history directly."""

from __future__ import annotations

import logging

from bot.incidents import cards, paging
from bot.incidents.actors import Actor
from bot.incidents.common import open_view, quietly, target
from bot.incidents.comms import open_status_update
from bot.incidents.declare import declare, service_or_explain
from bot.incidents.parse import parse
from bot.incidents.permissions import Action, authorize_read
from bot.incidents.resolve import open_resolve
from bot.incidents.roles import assign, note
from bot.incidents.schema_notes import history_schemas
from bot.runtime import Runtime
from bot.slack import views
from bot.slack.gateway import SlackFailure
from bot.slack.views import ActionValue
from bot.state.models import Incident
from bot.strategies import registry
from bot.strategies.base import RollbackError

log = logging.getLogger(__name__)


def on_command(rt: Runtime, text: str, actor: Actor) -> None:
    cmd = parse(text)
    if cmd.kind == "invalid":
        actor.error("I could not read that command", cmd.error, "Nothing was changed. Try `/rollback help`.")
    elif cmd.kind == "help":
        actor.reply("How to use /rollback", views.help_blocks())
    elif cmd.kind == "status":
        show_status(rt, actor)
    elif cmd.kind == "history":
        show_history(rt, cmd.service, actor)
    elif cmd.kind == "config":
        show_config(rt, cmd.service, actor)
    elif cmd.kind == "declare_modal":
        open_view(rt, actor, views.declare_modal(sorted(rt.catalog.services), cmd.declared), "declare")
    elif cmd.kind == "resolve":
        open_resolve(rt, ActionValue(cmd.incident), actor)
    elif cmd.kind == "update":
        open_status_update(rt, ActionValue(""), actor)
    elif cmd.kind in ("lead", "comms"):
        assign(rt, cmd.kind, cmd.user, actor)
    elif cmd.kind == "note":
        note(rt, cmd.reason, actor)
    elif cmd.kind == "page":
        paging.command(rt, cmd.reason, actor)
    else:
        declare(rt, cmd.service, cmd.reason, actor, cmd.declared)


def show_status(rt: Runtime, actor: Actor) -> None:
    """The open incidents; a private one only to its channel's members (unknown membership: not listed)."""
    shown, unchecked = [], 0
    for incident in cards.open_incidents(rt):
        seen = may_see(rt, incident, actor.id)
        unchecked += seen is None
        if seen:
            shown.append(cards.card_info(rt, incident))
    actor.reply("Open incidents", views.status_reply(shown, unchecked))


def may_see(rt: Runtime, incident: Incident, user_id: str) -> bool | None:
    """Whether ``user_id`` may see ``incident`` listed; ``None``: Slack could not say (so it is not listed)."""
    service = rt.catalog.get(incident.service)
    if service is not None and not service.private_channel:
        return True
    if not incident.channel_id:
        return None
    try:
        return rt.slack.is_member(incident.channel_id, user_id)
    except SlackFailure as exc:
        log.warning("could not check %s's membership of %s: %s", user_id, incident.key, exc.error)
        return None


def show_history(rt: Runtime, name: str, actor: Actor) -> None:
    service = service_or_explain(rt, name, actor)
    if service is None or not authorize_read(rt, service, actor, Action.READ_HISTORY):
        return
    try:
        revisions = rt.strategy_for(service).history(target(service))
    except RollbackError as exc:
        actor.error(f"I could not read the history of {name}", str(exc), "Nothing was changed.")
        return
    blocks = views.history_blocks(name, revisions, schemas=history_schemas(rt, service) if service.database else None)
    actor.reply(f"Rollout history of {name}", blocks)


def show_config(rt: Runtime, name: str, actor: Actor) -> None:
    """The recorded versions of the service's ConfigMaps and Secrets (the live ones recorded first)."""
    service = service_or_explain(rt, name, actor)
    if service is None or not authorize_read(rt, service, actor, Action.READ_CONFIG):
        return
    try:
        histories = rt.config_tracker().histories(service)
    except RollbackError as exc:
        actor.error(f"I could not read the config of {name}", str(exc), "Nothing was changed. Try again shortly.")
        return
    restorers = [n for n, s in registry.specs().items() if s.restores_config and not s.planned]
    actor.reply(
        f"Config versions of {name}", views.config_history_blocks(name, histories, service.strategy, restorers)
    )


def on_mention(rt: Runtime, channel: str, ts: str) -> None:
    quietly(rt.slack.post, channel, "I roll deployments back. Type `/rollback help` to see how.")

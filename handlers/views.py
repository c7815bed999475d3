"""Modal submissions: declare (service picker), resolve (postmortem form), status update."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents.comms import post_status_update
from bot.incidents.declare import declare
from bot.incidents.resolve import resolve
from bot.runtime import Runtime
from bot.slack.views import CallbackId, parse_declare, parse_resolve, parse_status_update
from handlers.common import user_from_view


def register(app: App, rt: Runtime) -> None:
    @app.view(CallbackId.DECLARE.value)
    def declare_submitted(ack, body, view):
        ack()
        form = parse_declare(view["state"]["values"])
        actor = user_from_view(rt, body)
        rt.submit(declare, rt, form.service, form.reason, actor, form.declared, answer=actor)

    @app.view(CallbackId.RESOLVE.value)
    def resolve_submitted(ack, body, view):
        form = parse_resolve(view["state"]["values"])
        if form.errors:
            ack(response_action="errors", errors=dict(form.errors))
            return
        ack()
        actor = user_from_view(rt, body)
        rt.submit(resolve, rt, view["private_metadata"], actor, form, answer=actor)

    @app.view(CallbackId.STATUS_UPDATE.value)
    def status_update_submitted(ack, body, view):
        ack()
        form = parse_status_update(view["state"]["values"])
        actor = user_from_view(rt, body)
        rt.submit(post_status_update, rt, view["private_metadata"], actor, form, answer=actor)

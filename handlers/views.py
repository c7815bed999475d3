"""Modal submissions: declare (service picker), resolve (postmortem form), status update."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents import lifecycle as incidents
from bot.runtime import Runtime
from bot.slack.views import CallbackId, parse_declare, parse_resolve, parse_status_update


def register(app: App, rt: Runtime) -> None:
    @app.view(CallbackId.DECLARE.value)
    def declare(ack, body, view):
        ack()
        form = parse_declare(view["state"]["values"])
        rt.submit(incidents.declare_from_modal, rt, body["user"]["id"], form.service, form.reason)

    @app.view(CallbackId.RESOLVE.value)
    def resolve(ack, body, view):
        form = parse_resolve(view["state"]["values"])
        if form.errors:
            ack(response_action="errors", errors=dict(form.errors))
            return
        ack()
        rt.submit(incidents.resolve, rt, view["private_metadata"], body["user"]["id"], form)

    @app.view(CallbackId.STATUS_UPDATE.value)
    def status_update(ack, body, view):
        ack()
        form = parse_status_update(view["state"]["values"])
        rt.submit(incidents.post_status_update, rt, view["private_metadata"], body["user"]["id"], form)

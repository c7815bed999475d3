"""The /rollback slash command."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents import lifecycle as incidents
from bot.runtime import Runtime
from handlers.common import caller_from


def register(app: App, rt: Runtime) -> None:
    @app.command("/rollback")
    def rollback(ack, body, respond):
        ack()
        rt.submit(incidents.on_command, rt, body.get("text", ""), caller_from(body, respond))

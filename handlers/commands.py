"""The /rollback slash command."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents.commands import on_command
from bot.runtime import Runtime
from handlers.common import user_from


def register(app: App, rt: Runtime) -> None:
    @app.command("/rollback")
    def rollback(ack, body):
        ack()
        actor = user_from(rt, body)
        rt.submit(on_command, rt, body.get("text", ""), actor, answer=actor)

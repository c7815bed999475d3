"""Events API: a mention of the bot answers with what it can do."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents.commands import on_mention
from bot.runtime import Runtime


def register(app: App, rt: Runtime) -> None:
    @app.event("app_mention")
    def mentioned(event):
        rt.submit(on_mention, rt, event.get("channel", ""), event.get("ts", ""))

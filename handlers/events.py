"""Events API: a mention of the bot answers with what it can do; a 📌 on a message puts it on the timeline."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents import roles
from bot.incidents.commands import on_mention
from bot.runtime import Runtime
from handlers.common import user_from_event


def register(app: App, rt: Runtime) -> None:
    @app.event("app_mention")
    def mentioned(event):
        rt.submit(on_mention, rt, event.get("channel", ""), event.get("ts", ""))

    def pin_listener(then):
        def listener(event):
            item = event.get("item") or {}
            if event.get("reaction") != roles.PIN or item.get("type") != "message":
                return
            actor = user_from_event(rt, event.get("user", ""), item.get("channel", ""))
            rt.submit(then, rt, item.get("channel", ""), item.get("ts", ""), actor, answer=actor)

        return listener

    app.event("reaction_added")(pin_listener(roles.pinned))
    app.event("reaction_removed")(pin_listener(roles.unpinned))

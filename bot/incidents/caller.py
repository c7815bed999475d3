"""Who is asking, where, and how to answer them privately."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.slack import views


@dataclass(frozen=True)
class Caller:
    user_id: str
    channel_id: str
    trigger_id: str
    reply: Callable[..., None]

    def error(self, title: str, what_happened: str, what_next: str) -> None:
        """An ephemeral error; all of it is escaped, so user input echoed back cannot ping or link."""
        text = views.escape(f"{title}: {what_happened} {what_next}")
        self.reply(text, views.error_blocks(title, what_happened, what_next))

    def unexpected(self, what: str, exc: BaseException) -> None:
        """A job failed after the ack: tell the person instead of leaving the click unanswered."""
        self.error(
            f"Something went wrong while I {what}",
            f"{type(exc).__name__}: {exc}",
            "Nothing else was changed by this request. Try again; if it keeps failing, tell the bot's owners "
            "(the details are in the bot's log).",
        )

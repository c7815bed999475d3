"""Who acts on an incident: a person in Slack, or a system (Alertmanager, auto-rollback) with no Slack user.

Both are recorded alike: ``id`` in the timeline's actor column (and as declarer, requester, decider), and
``data`` (kind + id or name) in the event's data. They differ in how they are answered: a person privately
in Slack; a system in the log (a refusal is audited on the incident's timeline as well). What a system actor
may do is decided in ``bot.incidents.permissions``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from bot.slack import views

log = logging.getLogger(__name__)

SYSTEM = "system:"  # the prefix of a system actor's id (never a Slack user id, which starts with U or W)
_NAME = re.compile(r"[a-z][a-z0-9-]{0,24}")  # "system:" + 25 characters fit the 32 of an actor column


@dataclass(frozen=True)
class SlackUser:
    """A person: answered ephemerally (or by direct message after a modal)."""

    id: str  # Slack user id
    channel_id: str
    trigger_id: str
    reply: Callable[..., None]
    kind: ClassVar[str] = "slack"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    @property
    def data(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}

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


@dataclass(frozen=True)
class SystemActor:
    """A system that acts without a person (``alertmanager``, ``auto-rollback``): answered in the log."""

    name: str
    kind: ClassVar[str] = "system"
    channel_id: ClassVar[str] = ""  # no channel of its own: an incident is named by its key
    trigger_id: ClassVar[str] = ""  # opens no modal

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"a system actor's name is lowercase letters, digits and '-', at most 25: {self.name!r}")

    @property
    def id(self) -> str:
        return SYSTEM + self.name

    @property
    def mention(self) -> str:
        return f"system: {self.name}"

    @property
    def data(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}

    def reply(self, text: str, blocks: list[dict] | None = None) -> None:
        log.info("to %s: %s", self.id, text)

    def error(self, title: str, what_happened: str, what_next: str) -> None:
        log.warning("to %s: %s: %s %s", self.id, title, what_happened, what_next)

    def unexpected(self, what: str, exc: BaseException) -> None:
        log.error("%s: something went wrong while I %s: %s: %s", self.id, what, type(exc).__name__, exc)


Actor = SlackUser | SystemActor


def is_system(actor_id: str | None) -> bool:
    """Whether a recorded actor id (timeline, declarer, requester) is a system actor's."""
    return bool(actor_id) and actor_id.startswith(SYSTEM)

"""Parse what follows ``/rollback`` into one command (pure; no Slack, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.config import valid_k8s_name
from bot.signals.severity import DECLARATION_FLAGS, DECLARATIONS

MAX_TEXT = 1000
MAX_REASON = 500
_INCIDENT_KEY = re.compile(r"^INC-\d{4}-\d{3,}$", re.IGNORECASE)
# "--data-loss" anywhere; a phone may turn "--" into an en or em dash.
_DECLARATION = re.compile(rf"(?<!\S)(?:--|[–—])({'|'.join(map(re.escape, DECLARATIONS))})(?!\S)", re.IGNORECASE)
_FLAG = re.compile(r"(?<!\S)--[a-z][\w-]*", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    kind: str  # declare | declare_modal | help | status | history | config | resolve | update | lead | comms | note
    # | invalid
    service: str = ""
    reason: str = ""
    incident: str = ""  # INC-YYYY-NNN when given
    error: str = ""  # for kind == "invalid": what was wrong, said politely
    declared: tuple[str, ...] = ()  # keys of DECLARATIONS a person stated (--data-loss, --security-breach)
    user: str = ""  # lead / comms: the Slack user id named


ROLES = {"lead": "incident lead", "comms": "communications lead"}
# Slack sends a mention as <@U0123|name> (or <@U0123>); a person may also type the id alone.
_MENTION = re.compile(r"^<@([UW][A-Z0-9_]{2,})(?:\|[^>]*)?>$|^([UW][A-Z0-9_]{2,})$")


def _invalid(error: str) -> Command:
    return Command("invalid", error=error)


def _service_error(name: str) -> str:
    shown = name if len(name) <= 60 else name[:57] + "..."
    return (
        f"`{shown}` is not a valid service name. Service names are Kubernetes names: lowercase letters, "
        "digits and '-', starting and ending with a letter or digit, at most 63 characters."
    )


def _declarations(text: str) -> tuple[str, tuple[str, ...]]:
    """The text without its declaration flags, and the declarations (each once, in DECLARATIONS order)."""
    found = {m.lower() for m in _DECLARATION.findall(text)}
    if not found:
        return text, ()
    rest = re.sub(r"[ \t]{2,}", " ", _DECLARATION.sub("", text)).strip()
    return rest, tuple(key for key in DECLARATIONS if key in found)


def parse(text: str) -> Command:
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        return _invalid(f"That command is {len(text)} characters long; the most I accept is {MAX_TEXT}.")
    text, declared = _declarations(text)
    command = _parse(text)
    if not declared or command.kind == "invalid":
        return command
    if command.kind not in ("declare", "declare_modal"):
        return _invalid(
            f"{DECLARATION_FLAGS} can only be given when declaring an incident, "
            "e.g. `/rollback shopping-service orders lost --data-loss`."
        )
    return replace(command, declared=declared)


def _parse(text: str) -> Command:
    if not text:
        return Command("declare_modal")
    word, _, rest = text.partition(" ")
    word, rest = word.lower(), rest.strip()
    if word in ("help", "-h", "--help", "?"):
        return Command("help")
    if word == "status":
        return Command("status")
    if word == "update":
        return Command("update")
    if word in ROLES:
        return _role(word, rest)
    if word == "page":
        return Command("page", reason=rest.split()[0].lower() if rest else "")
    if word == "note":
        if not rest:
            return _invalid("What should the note say? Use `/rollback note <text>` in the incident channel.")
        if len(rest) > MAX_REASON:
            return _invalid(f"The note is {len(rest)} characters long; please keep it under {MAX_REASON}.")
        return Command("note", reason=rest)
    if word in ("history", "config"):
        if not rest:
            return _invalid(
                f"Which service? Use `/rollback {word} <service>`, e.g. `/rollback {word} shopping-service`."
            )
        name = rest.split()[0]
        return Command(word, service=name) if valid_k8s_name(name) else _invalid(_service_error(name))
    if word == "resolve":
        if rest and not _INCIDENT_KEY.match(rest):
            return _invalid(
                f"`{rest[:40]}` is not an incident id. Use `/rollback resolve` in the incident channel, "
                "or `/rollback resolve INC-2026-001`."
            )
        return Command("resolve", incident=rest.upper())
    if not valid_k8s_name(word):
        return _invalid(_service_error(word))
    unknown = _FLAG.search(rest)
    if unknown:
        return _invalid(
            f"I don't know `{unknown.group()[:40]}`. A person can declare {DECLARATION_FLAGS} "
            "(the incident becomes Critical); any other text is the reason."
        )
    if len(rest) > MAX_REASON:
        return _invalid(
            f"The reason is {len(rest)} characters long; please keep it under {MAX_REASON} "
            "(details can go in the incident channel)."
        )
    return Command("declare", service=word, reason=rest)


def _role(word: str, rest: str) -> Command:
    """``lead @user`` / ``comms @user``: exactly one person."""
    found = _MENTION.match(rest.strip())
    if not found:
        return _invalid(
            f"Who should be the {ROLES[word]}? Use `/rollback {word} @someone` in the incident channel (one person)."
        )
    return Command(word, user=found.group(1) or found.group(2))

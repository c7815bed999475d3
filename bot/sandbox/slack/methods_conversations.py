"""conversations.* with Slack's naming and membership rules."""

from __future__ import annotations

import base64
import re

from bot.sandbox.slack.emulator import Channel, SlackEmulator, _public
from bot.sandbox.slack.registry import SlackError, flag, method, need

NAME_MAX = 80
TOPIC_MAX = 250
_NAME_OK = re.compile(r"^[a-z0-9_\-]+$")


def channel_arg(
    emu: SlackEmulator, params: dict, key: str = "channel", member: bool = True, writable: bool = False
) -> Channel:
    """The channel named by ``params[key]``; the bot must be in it when ``member``."""
    channel = emu.resolve_channel(params.get(key))
    if channel is None:
        raise SlackError("channel_not_found")
    if writable and channel.is_archived:
        raise SlackError("is_archived")
    if member and emu.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def check_name(emu: SlackEmulator, name: str) -> None:
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    if not _NAME_OK.match(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")
    if any(c.name == name and not c.is_im for c in emu.channels.values()):
        raise SlackError("name_taken")


@method("conversations.create")
def create(emu: SlackEmulator, params: dict) -> dict:
    name = str(params.get("name") or "")
    with emu.lock:
        check_name(emu, name)
        emu.add_channel(name, creator=emu.bot_user_id, is_private=flag(params, "is_private"))
        return {"channel": emu.resolve_channel(name).to_api()}


@method("conversations.invite")
def invite(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, writable=True)
    users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    with emu.lock:
        errors = []
        for user in users:
            if user == emu.bot_user_id:
                errors.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif user not in emu.users:
                errors.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel.members:
                errors.append({"user": user, "ok": False, "error": "already_in_channel"})
        if errors and not flag(params, "force"):
            raise SlackError(errors[0]["error"], errors=errors)
        bad = {e["user"] for e in errors}
        channel.members.update(u for u in users if u not in bad)
        return {"channel": channel.to_api(), **({"errors": errors} if errors else {})}


@method("conversations.join")
def join(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False, writable=True)
    if channel.is_im or channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    with emu.lock:
        already = emu.bot_user_id in channel.members
        channel.members.add(emu.bot_user_id)
        extra = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        return {"channel": channel.to_api(), **(extra if already else {})}


@method("conversations.info")
def info(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False)
    if channel.is_private and emu.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    return {"channel": channel.to_api()}


MEMBERS_LIMIT = 1000  # Slack: "fewer than the requested number may be returned"; above 1000 is invalid_limit


@method("conversations.members")
def members(emu: SlackEmulator, params: dict) -> dict:
    """Slack's shape: a page of user ids and ``response_metadata.next_cursor`` (an opaque base64 "user:<id>",
    empty on the last page). A private channel the bot is not in is ``channel_not_found``, as in Slack."""
    channel = channel_arg(emu, params, member=False)
    if channel.is_private and emu.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    try:
        limit = int(params.get("limit") or 100)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    if not 1 <= limit <= MEMBERS_LIMIT:
        raise SlackError("invalid_limit")
    with emu.lock:
        everyone = sorted(channel.members)
    start = _member_cursor(str(params.get("cursor") or ""), everyone)
    page = everyone[start : start + limit]
    more = start + limit < len(everyone)
    next_cursor = base64.b64encode(f"user:{everyone[start + limit]}".encode()).decode() if more else ""
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


def _member_cursor(cursor: str, everyone: list[str]) -> int:
    """Where a ``conversations.members`` cursor points; ``invalid_cursor`` for anything we did not hand out."""
    if not cursor:
        return 0
    try:
        kind, _, user = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if kind != "user" or not user:
        raise SlackError("invalid_cursor")
    return next((i for i, u in enumerate(everyone) if u >= user), len(everyone))


def _set_text(emu: SlackEmulator, params: dict, field: str) -> dict:
    channel = channel_arg(emu, params, writable=True)
    value = str(params.get(field) or "")
    if len(value) > TOPIC_MAX:
        raise SlackError("too_long")
    with emu.lock:
        setattr(
            channel, field, {"value": value, "creator": emu.bot_user_id, "last_set": int(emu.clock.now())}
        )
        return {"channel": channel.to_api()}


@method("conversations.setTopic")
def set_topic(emu: SlackEmulator, params: dict) -> dict:
    return _set_text(emu, params, "topic")


@method("conversations.setPurpose")
def set_purpose(emu: SlackEmulator, params: dict) -> dict:
    return _set_text(emu, params, "purpose")


@method("conversations.archive")
def archive(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params)
    if channel.is_archived:
        raise SlackError("already_archived")
    if channel.is_general:
        raise SlackError("cant_archive_general")
    channel.is_archived = True
    return {}


@method("conversations.list")
def list_(emu: SlackEmulator, params: dict) -> dict:
    types = set(str(params.get("types") or "public_channel").split(","))
    with emu.lock:
        found = [
            c.to_api()
            for c in emu.channels.values()
            if ("im" if c.is_im else "private_channel" if c.is_private else "public_channel") in types
            and not (c.is_archived and flag(params, "exclude_archived"))
            and not (c.is_private and emu.bot_user_id not in c.members)
        ]
    return _page(params, found, "channels")


def _page(params: dict, items: list, key: str) -> dict:
    start = int(str(params.get("cursor") or "offset:0").split(":", 1)[1])
    limit = int(params.get("limit") or 100) or 100
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {
        key: page,
        "has_more": more,
        "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
    }


@method("conversations.history")
def history(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params)
    latest = float(params.get("latest") or "inf")
    oldest = float(params.get("oldest") or 0)
    inclusive = flag(params, "inclusive")
    with emu.lock:
        found = [
            _public(m)
            for m in reversed(channel.messages)
            if m.get("thread_ts", m["ts"]) == m["ts"]
            and (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
    return {**_page(params, found, "messages"), "pin_count": len(channel.pins)}


@method("conversations.replies")
def replies(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params)
    ts = need(params, "ts", "thread_not_found")
    with emu.lock:
        found = [_public(m) for m in channel.messages if m["ts"] == ts or m.get("thread_ts") == ts]
    if not found:
        raise SlackError("thread_not_found")
    return _page(params, found, "messages")

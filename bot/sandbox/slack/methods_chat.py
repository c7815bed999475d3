"""chat.*, pins.*, reactions.*, bookmarks.* and response_url posts: what puts words in a channel."""

from __future__ import annotations

import copy
import json

from bot.sandbox.slack.emulator import RESPONSE_URL_USES, Channel, SlackEmulator, _public
from bot.sandbox.slack.methods_conversations import channel_arg
from bot.sandbox.slack.registry import SlackError, checked_blocks, flag, method, need

TEXT_MAX = 40000


def _content(params: dict, require: bool = True) -> tuple[str, list | None]:
    """(text, blocks) of a message, with Slack's no_text / msg_too_long / invalid_blocks checks."""
    text = str(params.get("text") or "")
    blocks = checked_blocks(params)
    if require and not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if len(text) > TEXT_MAX:
        raise SlackError("msg_too_long")
    return text, blocks


def new_message(emu: SlackEmulator, user: str, text: str, blocks: list | None, **extra) -> dict:
    message = {"type": "message", "ts": emu.next_ts(), "user": user, "text": text, "team": emu.team_id}
    if user == emu.bot_user_id:
        message.update(bot_id=emu.bot_id, app_id=emu.app_id)
    if blocks:
        message["blocks"] = blocks
    message.update({k: v for k, v in extra.items() if v not in (None, "")})
    return message


def _own_message(emu: SlackEmulator, channel: Channel, ts: str | None, error: str) -> dict:
    message = channel.find(ts or "")
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != emu.bot_user_id:
        raise SlackError(error)
    return message


def replace_content(message: dict, text: str, blocks: list | None, edited: dict | None) -> None:
    """Change a message in place, keeping the version it replaces in ``previous``."""
    before = {k: copy.deepcopy(message[k]) for k in ("text", "blocks", "edited") if k in message}
    message.setdefault("previous", []).append(before)
    message["text"] = text
    if blocks:
        message["blocks"] = blocks
    else:
        message.pop("blocks", None)
    if edited:
        message["edited"] = edited


@method("chat.postMessage")
def post_message(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, writable=True)
    text, blocks = _content(params)
    thread_ts = params.get("thread_ts")
    with emu.lock:
        message = new_message(emu, emu.bot_user_id, text, blocks, thread_ts=thread_ts)
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if isinstance(metadata, dict) and metadata.get("event_type"):
            message["metadata"] = metadata  # returned by conversations.history (include_all_metadata)
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": _public(message)}


@method("chat.update")
def update(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False, writable=True)
    with emu.lock:
        message = _own_message(emu, channel, params.get("ts"), "cant_update_message")
        text, blocks = _content(params, require="blocks" not in params)
        if "text" not in params:
            text = message.get("text", "")
        if "blocks" not in params:
            blocks = message.get("blocks")
        replace_content(message, text, blocks, {"user": emu.bot_user_id, "ts": emu.next_ts()})
        return {"channel": channel.id, "ts": message["ts"], "text": text, "message": _public(message)}


@method("chat.delete")
def delete(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False)
    with emu.lock:
        message = _own_message(emu, channel, params.get("ts"), "cant_delete_message")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}


@method("chat.postEphemeral")
def post_ephemeral(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, writable=True)
    user = need(params, "user", "user_not_found")
    if user not in emu.users:
        raise SlackError("user_not_found")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _content(params)
    with emu.lock:
        message = new_message(emu, emu.bot_user_id, text, blocks, thread_ts=params.get("thread_ts"))
        emu.ephemeral_log.append(
            {**message, "user": user, "channel": channel.id, "source": "chat.postEphemeral"}
        )
        return {"message_ts": message["ts"]}


@method("chat.getPermalink")
def permalink(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False)
    ts = need(params, "message_ts", "message_not_found")
    if channel.find(ts) is None:
        raise SlackError("message_not_found")
    return {
        "channel": channel.id,
        "permalink": f"https://{emu.team_domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}",
    }


@method("pins.add")
def pins_add(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, writable=True)
    ts = need(params, "timestamp", "no_item_specified")
    with emu.lock:
        message = channel.find(ts)
        if message is None:
            raise SlackError("message_not_found")
        if ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.append(ts)
        message["pinned_to"] = [channel.id]
        return {}


@method("pins.list")
def pins_list(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False)
    with emu.lock:
        return {
            "items": [
                {"type": "message", "channel": channel.id, "message": _public(channel.find(ts))}
                for ts in channel.pins
                if channel.find(ts)
            ]
        }


@method("reactions.add")
def reactions_add(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, member=False)
    name = need(params, "name", "invalid_name").strip(":")
    with emu.lock:
        message = channel.find(str(params.get("timestamp") or ""))
        if message is None:
            raise SlackError("message_not_found")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if emu.bot_user_id in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(emu.bot_user_id)
        reaction["count"] += 1
        return {}


@method("bookmarks.add")
def bookmarks_add(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, key="channel_id", member=False, writable=True)
    title = need(params, "title", "invalid_title")
    kind = str(params.get("type") or "")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    link = need(params, "link", "invalid_link")
    with emu.lock:
        bookmark = {
            "id": emu.new_id("Bk"),
            "channel_id": channel.id,
            "title": title,
            "link": link,
            "emoji": params.get("emoji") or "",
            "type": "link",
            "date_created": int(emu.clock.now()),
            "rank": str(len(channel.bookmarks)),
            "last_updated_by_user_id": emu.bot_user_id,
        }
        channel.bookmarks.append(bookmark)
        return {"bookmark": dict(bookmark)}


@method("bookmarks.list")
def bookmarks_list(emu: SlackEmulator, params: dict) -> dict:
    channel = channel_arg(emu, params, key="channel_id", member=False)
    return {"bookmarks": copy.deepcopy(channel.bookmarks)}


def respond(emu: SlackEmulator, key: str, body: dict) -> tuple[int, dict]:
    """A POST to a response_url: ephemeral reply, in-channel post, or replace/delete the original."""
    with emu.lock:
        source = emu.response_urls.get(key)
        if source is None:
            return 404, {"ok": False, "error": "expired_url"}
        if source.uses >= RESPONSE_URL_USES:
            return 404, {"ok": False, "error": "used_url"}
        source.uses += 1
        emu.response_log.append(
            {
                **copy.deepcopy(body),
                "user": source.user_id,
                "channel": source.channel_id,
                "message_ts": source.message_ts,
            }
        )
        try:
            if flag(body, "delete_original"):
                _delete_original(emu, source)
                return 200, {"ok": True}
            text, blocks = _content(body)
        except SlackError as exc:
            return 400, exc.body()
        if flag(body, "replace_original") and source.message_ts:
            _replace_original(emu, source, text, blocks)
        elif body.get("response_type") == "in_channel":
            channel = emu.resolve_channel(source.channel_id)
            if channel is None:
                return 404, {"ok": False, "error": "channel_not_found"}
            channel.messages.append(
                new_message(emu, emu.bot_user_id, text, blocks, thread_ts=body.get("thread_ts"))
            )
        else:
            message = new_message(emu, emu.bot_user_id, text, blocks)
            emu.ephemeral_log.append(
                {**message, "user": source.user_id, "channel": source.channel_id, "source": "response_url"}
            )
        return 200, {"ok": True}


def _original(emu: SlackEmulator, source) -> tuple[list | None, dict | None]:
    """(the list holding the original message, the message)."""
    if source.ephemeral:
        found = next((e for e in emu.ephemeral_log if e["ts"] == source.message_ts), None)
        return emu.ephemeral_log, found
    channel = emu.resolve_channel(source.channel_id)
    return (channel.messages, channel.find(source.message_ts)) if channel else (None, None)


def _delete_original(emu: SlackEmulator, source) -> None:
    holder, message = _original(emu, source)
    if holder is not None and message is not None:
        holder.remove(message)


def _replace_original(emu: SlackEmulator, source, text: str, blocks: list | None) -> None:
    _holder, message = _original(emu, source)
    if message is not None:
        replace_content(message, text, blocks, edited=None)

"""auth.*, users.*, views.* (modals with trigger ids) and the external file upload flow."""

from __future__ import annotations

import copy
import hashlib
import mimetypes
import time

from bot.sandbox.slack.blocks import MODAL_BLOCK_LIMIT
from bot.sandbox.slack.emulator import SlackEmulator
from bot.sandbox.slack.methods_chat import new_message
from bot.sandbox.slack.methods_conversations import channel_arg
from bot.sandbox.slack.registry import SlackError, check_blocks, json_param, method, need

VIEW_TITLE_MAX = 24
_VIEW_FIELDS = (
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
    "submit_disabled",
)


@method("auth.test")
def auth_test(emu: SlackEmulator, params: dict) -> dict:
    return {
        "url": f"https://{emu.team_domain}.slack.com/",
        "team": "Sandbox",
        "user": "rollback-bot",
        "team_id": emu.team_id,
        "user_id": emu.bot_user_id,
        "bot_id": emu.bot_id,
        "is_enterprise_install": False,
    }


@method("apps.connections.open")
def apps_connections_open(emu: SlackEmulator, params: dict) -> dict:
    """Socket Mode: a single-use WebSocket URL (the app-level token was checked by the dispatcher)."""
    return {"url": emu.socket_mode.open_url()}


@method("users.info")
def users_info(emu: SlackEmulator, params: dict) -> dict:
    user = emu.users.get(str(params.get("user") or ""))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": copy.deepcopy(user)}


@method("users.list")
def users_list(emu: SlackEmulator, params: dict) -> dict:
    return {"members": copy.deepcopy(list(emu.users.values())), "response_metadata": {"next_cursor": ""}}


@method("users.lookupByEmail")
def users_by_email(emu: SlackEmulator, params: dict) -> dict:
    email = str(params.get("email") or "")
    user = next((u for u in emu.users.values() if u["profile"]["email"] == email), None)
    if user is None:
        raise SlackError("users_not_found")
    return {"user": copy.deepcopy(user)}


def checked_view(params: dict, kinds: tuple[str, ...]) -> dict:
    """The ``view`` parameter, checked like Slack checks modals and home tabs."""
    view = json_param(params, "view")
    if not isinstance(view, dict) or view.get("type") not in kinds:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] invalid view type [json-pointer:/view/type]"]},
        )
    problems = [f"[ERROR] unknown field [json-pointer:/view/{k}]" for k in view if k not in _VIEW_FIELDS]
    if view["type"] == "modal":
        title = view.get("title") if isinstance(view.get("title"), dict) else {}
        if not title.get("text"):
            problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
        elif len(title["text"]) > VIEW_TITLE_MAX:
            problems.append(
                f"[ERROR] must be less than {VIEW_TITLE_MAX + 1} characters [json-pointer:/view/title/text]"
            )
        if any(
            b.get("type") == "input" for b in view.get("blocks", []) if isinstance(b, dict)
        ) and not view.get("submit"):
            problems.append(
                "[ERROR] must provide a submit button when input blocks are present "
                "[json-pointer:/view/submit]"
            )
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": problems})
    check_blocks(view.get("blocks", []), MODAL_BLOCK_LIMIT, "/view/blocks")
    return view


def _use_trigger(emu: SlackEmulator, params: dict) -> str:
    trigger = emu.triggers.get(str(params.get("trigger_id") or ""))
    if trigger is None:
        raise SlackError("invalid_trigger_id")
    if trigger.used or time.monotonic() - trigger.issued > emu.trigger_ttl:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger.user_id


def store_view(
    emu: SlackEmulator, spec: dict, user_id: str, view_id: str | None = None, previous: str | None = None
) -> dict:
    view_id = view_id or emu.new_id("V")
    old = emu.views.get(view_id, {})
    view = {
        "id": view_id,
        "team_id": emu.team_id,
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "state": {"values": {}},
        **copy.deepcopy(spec),
        "hash": hashlib.sha1(f"{view_id}{time.monotonic_ns()}".encode()).hexdigest()[:20],
        "root_view_id": old.get("root_view_id", previous or view_id),
        "previous_view_id": previous,
        "app_id": emu.app_id,
        "bot_id": emu.bot_id,
        "user_id": user_id,
    }
    if view_id not in emu.views:
        emu.view_order.append(view_id)
    emu.views[view_id] = view
    return copy.deepcopy(view)


@method("views.open")
def views_open(emu: SlackEmulator, params: dict) -> dict:
    with emu.lock:
        user_id = _use_trigger(emu, params)
        return {"view": store_view(emu, checked_view(params, ("modal",)), user_id)}


@method("views.push")
def views_push(emu: SlackEmulator, params: dict) -> dict:
    with emu.lock:
        user_id = _use_trigger(emu, params)
        top = next((v for v in reversed(emu.view_order) if emu.views[v]["user_id"] == user_id), None)
        return {"view": store_view(emu, checked_view(params, ("modal",)), user_id, previous=top)}


@method("views.update")
def views_update(emu: SlackEmulator, params: dict) -> dict:
    with emu.lock:
        view_id = params.get("view_id") or next(
            (
                v["id"]
                for v in emu.views.values()
                if params.get("external_id") and v["external_id"] == params.get("external_id")
            ),
            None,
        )
        current = emu.views.get(str(view_id or ""))
        if current is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": store_view(emu, checked_view(params, ("modal",)), current["user_id"], current["id"])}


@method("views.publish")
def views_publish(emu: SlackEmulator, params: dict) -> dict:
    user_id = need(params, "user_id", "user_not_found")
    if user_id not in emu.users:
        raise SlackError("user_not_found")
    spec = checked_view(params, ("home",))
    with emu.lock:
        view = {**copy.deepcopy(spec), "id": emu.new_id("V"), "team_id": emu.team_id, "app_id": emu.app_id}
        emu.home_views[user_id] = view
        return {"view": copy.deepcopy(view)}


@method("files.getUploadURLExternal")
def get_upload_url(emu: SlackEmulator, params: dict) -> dict:
    filename = need(params, "filename", "invalid_arguments")
    try:
        length = int(need(params, "length", "invalid_arguments"))
    except ValueError as exc:
        raise SlackError("invalid_arguments") from exc
    with emu.lock:
        file_id = emu.new_id("F")
        emu.file_store[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "alt_txt": params.get("alt_txt") or "",
            "content": None,
            "channels": [],
        }
    return {"upload_url": f"{emu.base_url}/upload/{file_id}", "file_id": file_id}


def store_upload(emu: SlackEmulator, file_id: str, content: bytes) -> tuple[int, str]:
    """The POST of a file's bytes to its upload_url."""
    with emu.lock:
        entry = emu.file_store.get(file_id)
        if entry is None:
            return 404, "file_not_found"
        entry["content"] = content
        return 200, f"OK - {len(content)}"


def _file_object(emu: SlackEmulator, entry: dict) -> dict:
    mimetype = mimetypes.guess_type(entry["name"])[0] or "text/plain"
    url = f"{emu.base_url}/files/{entry['id']}/{entry['name']}"
    public = {k: v for k, v in entry.items() if k not in ("content", "length")}
    return {
        **public,
        "created": int(emu.clock.now()),
        "timestamp": int(emu.clock.now()),
        "user": emu.bot_user_id,
        "mimetype": mimetype,
        "filetype": entry["name"].rsplit(".", 1)[-1] if "." in entry["name"] else "text",
        "size": len(entry["content"] or b""),
        "url_private": url,
        "url_private_download": url,
        "permalink": url,
        "groups": [],
        "ims": [],
        "comments_count": 0,
    }


@method("files.completeUploadExternal")
def complete_upload(emu: SlackEmulator, params: dict) -> dict:
    items = json_param(params, "files")
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    channel = channel_arg(emu, params, key="channel_id", writable=True) if params.get("channel_id") else None
    with emu.lock:
        entries = []
        for item in items:
            entry = emu.file_store.get(str(item.get("id")))
            if entry is None or entry["content"] is None:
                raise SlackError("file_not_found")
            entry["title"] = item.get("title") or entry["name"]
            entries.append(entry)
        for entry in entries:
            if channel:
                entry["channels"].append(channel.id)
        objects = [_file_object(emu, e) for e in entries]
        if channel:
            channel.messages.append(
                new_message(
                    emu,
                    emu.bot_user_id,
                    str(params.get("initial_comment") or ""),
                    None,
                    files=objects,
                    thread_ts=params.get("thread_ts"),
                )
            )
        return {"files": objects}


@method("files.info")
def files_info(emu: SlackEmulator, params: dict) -> dict:
    entry = emu.file_store.get(str(params.get("file") or ""))
    if entry is None or entry["content"] is None:
        raise SlackError("file_not_found")
    return {"file": _file_object(emu, entry), "content": entry["content"].decode("utf-8", "replace")}

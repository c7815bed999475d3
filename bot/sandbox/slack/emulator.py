"""The Slack workspace the bot talks to: users, channels, messages, views, files, and the knobs tests turn.

State lives here; the Web API methods that change it are in ``methods_*.py`` and the HTTP surface
in ``api.py``. Every query helper returns copies, so a test cannot change the world by accident.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.sandbox.clock import SimClock
from bot.sandbox.httpserver import App, SandboxServer
from bot.sandbox.slack.blocks import render_blocks
from bot.sandbox.slack.socket_mode import SocketModeServer

DEFAULT_USERS: dict[str, dict] = {
    "U_ONCALL": {
        "name": "alice",
        "real_name": "Alice Chen",
        "title": "On-call engineer",
        "tz": "Europe/London",
    },
    "U_OWNER": {"name": "bob", "real_name": "Bob Okafor", "title": "Service owner", "tz": "America/New_York"},
    "U_LEAD": {
        "name": "carol",
        "real_name": "Carol Diaz",
        "title": "Incident lead",
        "tz": "America/Los_Angeles",
    },
    "U_VIEWER": {"name": "dave", "real_name": "Dave Kim", "title": "Stakeholder", "tz": "Asia/Tokyo"},
}
BOT_USER_ID = "U_BOT"
BOT_ID = "B_ROLLBACK"
TEAM_ID = "T_SANDBOX"
TEAM_DOMAIN = "sandbox"
APP_ID = "A_ROLLBACK"
VERIFICATION_TOKEN = "sandbox-verification-token"
RATE_WINDOW = 60.0  # seconds of (simulated) time in a "per minute" limit
RESPONSE_URL_USES = 5  # Slack accepts at most five posts per response_url


@dataclass
class Channel:
    id: str
    name: str
    creator: str
    created: int
    members: set[str] = field(default_factory=set)
    is_private: bool = False
    is_im: bool = False
    is_general: bool = False
    is_archived: bool = False
    topic: dict = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    purpose: dict = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    messages: list[dict] = field(default_factory=list)  # Slack-shaped, plus "previous" versions
    pins: list[str] = field(default_factory=list)  # message ts
    bookmarks: list[dict] = field(default_factory=list)

    def to_api(self, viewer: str = BOT_USER_ID) -> dict:
        """The conversation object as conversations.info/list/create return it."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "created": self.created,
            "creator": self.creator,
            "is_channel": not self.is_im and not self.is_private,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "topic": dict(self.topic),
            "purpose": dict(self.purpose),
            "num_members": len(self.members),
        }

    def find(self, ts: str) -> dict | None:
        return next((m for m in self.messages if m["ts"] == ts), None)


@dataclass
class Trigger:
    user_id: str
    issued: float  # time.monotonic(): trigger ids expire in wall time, whatever the sim clock does
    used: bool = False


@dataclass
class ResponseUrl:
    user_id: str
    channel_id: str
    message_ts: str | None  # the message a click came from (for replace/delete_original)
    ephemeral: bool = False
    uses: int = 0


def _public(message: dict) -> dict:
    """A message as the Web API returns it (without the emulator's version history)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "previous"}


class SlackEmulator:
    """One Slack workspace with the bot installed; see ``api.py`` for the Web API it serves."""

    def __init__(
        self,
        bot_token: str = "xoxb-sandbox",
        users: dict | None = None,
        clock: SimClock | None = None,
        app_token: str = "xapp-sandbox",
    ) -> None:
        self.bot_token, self.app_token = bot_token, app_token  # the app-level token opens Socket Mode
        self.clock = clock or SimClock()
        self.team_id, self.team_domain, self.app_id = TEAM_ID, TEAM_DOMAIN, APP_ID
        self.bot_user_id, self.bot_id = BOT_USER_ID, BOT_ID
        self.verification_token = VERIFICATION_TOKEN
        self.trigger_ttl = 3.0  # wall seconds a trigger_id stays valid
        self.base_url: str | None = (
            None  # where the emulator is served; learnt from the first request if unset
        )
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self.users: dict[str, dict] = {}
        for uid, spec in (DEFAULT_USERS if users is None else users).items():
            self.users[uid] = self._user(uid, spec)
        self.users[BOT_USER_ID] = self._user(
            BOT_USER_ID, {"name": "rollback-bot", "real_name": "Rollback Bot", "is_bot": True, "tz": "UTC"}
        )
        self.channels: dict[str, Channel] = {}
        self.ephemeral_log: list[dict] = []
        self.response_log: list[dict] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.triggers: dict[str, Trigger] = {}
        self.views: dict[str, dict] = {}  # view id -> latest view
        self.view_order: list[str] = []
        self.closed_views: set[str] = set()  # submitted (and closed) or cleared modals
        self.home_views: dict[str, dict] = {}
        self.file_store: dict[str, dict] = {}  # file id -> file object + "content"
        self.call_log: list[dict] = []
        self.rate_limits: dict[str, int] = {}
        self.rate_window: dict[str, deque[float]] = defaultdict(deque)
        self.rate_blocked_until: dict[str, float] = {}
        self.failures: dict[str, deque[str | int]] = defaultdict(deque)
        humans = [u for u in self.users if u != BOT_USER_ID]
        self.add_channel(
            "general", creator=humans[0] if humans else BOT_USER_ID, members=humans, is_general=True
        )
        self.add_channel("incidents", creator=BOT_USER_ID, members=[*humans, BOT_USER_ID])
        self._server: SandboxServer | None = None
        self.socket_mode = SocketModeServer(APP_ID)  # apps.connections.open's WebSocket (socket_mode.py)

    # ---- set-up ---------------------------------------------------------------------------------------

    def _user(self, uid: str, spec: dict) -> dict:
        tz = spec.get("tz", "UTC")
        offset = ZoneInfo(tz).utcoffset(dt.datetime.now()) or dt.timedelta()
        name = spec.get("name", uid.lower())
        real = spec.get("real_name", name)
        return {
            "id": uid,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real,
            "deleted": False,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": int(offset.total_seconds()),
            "is_bot": spec.get("is_bot", False),
            "is_admin": spec.get("is_admin", False),
            "is_app_user": False,
            "profile": {
                "real_name": real,
                "display_name": spec.get("display_name", name),
                "title": spec.get("title", ""),
                "email": spec.get("email", f"{name}@sandbox.example"),
            },
        }

    def add_user(self, uid: str, name: str | None = None) -> dict:
        """A person joins the workspace (not the default channels): a test's bystander."""
        with self.lock:
            self.users[uid] = self._user(uid, {"name": name or uid.lower()})
            return copy.deepcopy(self.users[uid])

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def next_ts(self) -> str:
        """A message timestamp: simulated seconds, unique and increasing like Slack's."""
        with self.lock:
            now = max(self.clock.now(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def add_channel(
        self,
        name: str,
        creator: str = BOT_USER_ID,
        members: list[str] | None = None,
        is_private: bool = False,
        is_general: bool = False,
    ) -> dict:
        """Create a channel directly (scenario set-up; the bot uses conversations.create)."""
        with self.lock:
            channel = Channel(
                self.new_id("C"),
                name,
                creator,
                int(self.clock.now()),
                set(members or [creator]),
                is_private=is_private,
                is_general=is_general,
            )
            self.channels[channel.id] = channel
            return channel.to_api()

    def resolve_channel(self, ref: str | None) -> Channel | None:
        """A channel by id, ``#name`` or name; a user id opens the bot's DM with that user."""
        if not ref:
            return None
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            if ref in self.users:
                dm_id = "D" + ref.replace("_", "")
                if dm_id not in self.channels:
                    self.channels[dm_id] = Channel(
                        dm_id, ref, BOT_USER_ID, int(self.clock.now()), {ref, BOT_USER_ID}, is_im=True
                    )
                return self.channels[dm_id]
            name = ref.lstrip("#")
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def post_as(self, user_id: str, channel: str, text: str) -> dict:
        """A message typed by a person (the driver then tells the bot about it)."""
        target = self.resolve_channel(channel)
        if target is None or user_id not in self.users:
            raise KeyError(f"no channel {channel} or user {user_id}")
        message = {
            "type": "message",
            "ts": self.next_ts(),
            "user": user_id,
            "text": text,
            "team": self.team_id,
        }
        with self.lock:
            target.messages.append(message)
        return {**message, "channel": target.id}

    def issue_trigger(self, user_id: str) -> str:
        """A fresh trigger_id, as Slack attaches to a command or click (single use, 3 s of wall time)."""
        trigger_id = f"{next(self._ids)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        with self.lock:
            self.triggers[trigger_id] = Trigger(user_id, time.monotonic())
        return trigger_id

    def issue_response_url(
        self, user_id: str, channel_id: str, message_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        if not self.base_url:
            raise RuntimeError("the emulator's URL is unknown: start() it or set base_url")
        key = secrets.token_hex(12)
        with self.lock:
            self.response_urls[key] = ResponseUrl(user_id, channel_id, message_ts, ephemeral)
        return f"{self.base_url}/response/{key}"

    # ---- serving --------------------------------------------------------------------------------------

    @property
    def app(self) -> App:
        from bot.sandbox.slack.api import make_app

        return make_app(self)

    def start(self, port: int = 0) -> str:
        self._server = SandboxServer(self.app, port=port).start()
        self.base_url = self._server.url
        self.socket_mode.start()
        return self.base_url

    def stop(self) -> None:
        self.socket_mode.stop()
        if self._server:
            self._server.stop()
            self._server = None

    @property
    def api_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("the emulator is not started")
        return f"{self.base_url}/api/"

    # ---- knobs ----------------------------------------------------------------------------------------

    def set_rate_limit(self, method: str, per_minute: int) -> None:
        """Answer 429 + Retry-After beyond ``per_minute`` calls of ``method`` in a rolling minute."""
        with self.lock:
            self.rate_limits[method] = per_minute
            self.rate_window[method].clear()
            self.rate_blocked_until.pop(method, None)

    def fail_next(self, method: str, error: str | int, times: int = 1, after: bool = False) -> None:
        """Make the next ``times`` calls fail: an error code (``ok: false``), ``ratelimited`` (429), or a
        HTTP status such as 500; with ``after``, the status comes after the work was done (a lost answer)."""
        with self.lock:
            self.failures[method].extend([("after", int(error)) if after else error] * times)

    # ---- assertions -----------------------------------------------------------------------------------

    def channel_by_name(self, name: str) -> dict:
        channel = self.resolve_channel("#" + name.lstrip("#"))
        if channel is None:
            raise KeyError(f"no channel named #{name.lstrip('#')}")
        with self.lock:
            info = channel.to_api()
            info["members"] = sorted(channel.members)
            info["pins"] = list(channel.pins)
            info["bookmarks"] = copy.deepcopy(channel.bookmarks)
            return info

    def messages(self, channel_id: str) -> list[dict]:
        """Every message in the channel, oldest first: the latest version, with ``previous`` versions."""
        channel = self.resolve_channel(channel_id)
        if channel is None:
            raise KeyError(f"no channel {channel_id}")
        with self.lock:
            return copy.deepcopy(channel.messages)

    def find_message(self, ts: str, channel_id: str | None = None) -> tuple[str, dict] | None:
        """(channel id, message) for a message ts, searching every channel unless one is given."""
        with self.lock:
            channels = [self.resolve_channel(channel_id)] if channel_id else list(self.channels.values())
            for channel in channels:
                message = channel.find(ts) if channel else None
                if message:
                    return channel.id, copy.deepcopy(message)
        return None

    def ephemerals(self, user_id: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.ephemeral_log if e["user"] == user_id]

    def responses(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self.response_log)

    def views_opened(self) -> list[dict]:
        """Modals opened (views.open/push), latest version of each, oldest first."""
        with self.lock:
            return [copy.deepcopy(self.views[v]) for v in self.view_order]

    def files(self, channel_id: str) -> list[dict]:
        channel = self.resolve_channel(channel_id)
        with self.lock:
            return [
                copy.deepcopy(f) for f in self.file_store.values() if channel and channel.id in f["channels"]
            ]

    def calls(self, method: str | None = None) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(c) for c in self.call_log if method is None or c["method"] == method]

    def _as_read(self, line: str) -> str:
        """What Slack shows for mrkdwn: mentions and channel links by name, entities unescaped."""
        line = re.sub(r"<@([A-Z0-9_]+)>", lambda m: "@" + self.users.get(m.group(1), {}).get("name", m.group(1)), line)
        line = re.sub(
            r"<#([A-Z0-9_]+)(?:\|[^>]*)?>",
            lambda m: "#" + (self.channels[m.group(1)].name if m.group(1) in self.channels else m.group(1)),
            line,
        )
        return line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def transcript(self, channel_id: str) -> str:
        """The channel as a person reads it: time, author, rendered text, (edited), files, reactions."""
        channel = self.resolve_channel(channel_id)
        if channel is None:
            raise KeyError(f"no channel {channel_id}")
        with self.lock:
            lines = [
                f"#{channel.name}" + (f" — topic: {channel.topic['value']}" if channel.topic["value"] else "")
            ]
            for message in channel.messages:
                when = dt.datetime.fromtimestamp(float(message["ts"]), tz=dt.UTC).strftime("%H:%M:%S")
                author = self.users.get(message.get("user", ""), {}).get("name", message.get("user", "?"))
                body = (
                    render_blocks(message["blocks"])
                    if message.get("blocks")
                    else message.get("text", "").splitlines()
                )
                marks = (" (edited)" if "edited" in message else "") + (
                    " (pinned)" if message["ts"] in channel.pins else ""
                )
                indent = "    " if message.get("thread_ts", message["ts"]) != message["ts"] else ""
                first, *rest = [self._as_read(line) for line in body] or [""]
                lines.append(f"{indent}{when} {author}: {first}{marks}")
                lines.extend(f"{indent}    {line}" for line in rest)
                for f in message.get("files", []):
                    lines.append(f"{indent}    [file: {f['name']} — {f['title']}]")
                for r in message.get("reactions", []):
                    lines.append(f"{indent}    :{r['name']}: {r['count']}")
            return "\n".join(lines)

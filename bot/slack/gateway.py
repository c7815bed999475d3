"""The one place that calls the Slack Web API.

It owns the retries, so no caller repeats them: rate limits (HTTP 429 with
``Retry-After``) and dropped connections are retried by slack_sdk's retry
handlers; a freshly created channel that Slack does not see yet
(``channel_not_found``, eventual consistency) is retried here with a short
backoff; ``not_in_channel`` is mended by joining first. Everything else is raised
as :class:`SlackFailure` with a message a person can act on.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import urllib3
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot import telemetry

log = logging.getLogger(__name__)

MAX_CHANNEL_NAME = 80
_EVENTUAL = {"channel_not_found"}
_EVENTUAL_DELAYS = (0.2, 0.5, 1.0)


class SlackFailure(Exception):
    """A Slack call failed after the retries that are safe.

    ``uncertain``: the connection broke or Slack answered 5xx, so the call may have been carried out.
    """

    def __init__(self, method: str, error: str, uncertain: bool = False) -> None:
        super().__init__(f"Slack refused {method}: {error}")
        self.method = method
        self.error = error
        self.uncertain = uncertain


# Repeating these can post twice or leave an orphan channel: no blind retries, look the result up instead.
NOT_REPEATABLE = {"chat.postMessage", "conversations.create"}
LOOKUP_ATTEMPTS = 3
MESSAGE_EVENT = "rollback_bot_message"


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


def make_client(token: str, base_url: str, timeout: int = 10, repeatable: bool = True) -> WebClient:
    """A WebClient that retries rate limits (Slack did nothing), and, for calls safe to repeat, 5xx
    answers and dropped connections."""
    handlers = [RateLimitErrorRetryHandler(max_retry_count=4)]
    if repeatable:
        handlers += [ConnectionErrorRetryHandler(max_retry_count=2), ServerErrorRetryHandler(max_retry_count=2)]
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)


def channel_name(base: str, suffix: int = 1) -> str:
    """Slack's rules: lowercase, only a-z 0-9 - _, at most 80 characters (suffix kept)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-") or "incident"
    tail = f"-{suffix}" if suffix > 1 else ""
    return name[: MAX_CHANNEL_NAME - len(tail)].rstrip("-") + tail


class SlackGateway:
    def __init__(self, client: WebClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._once = make_client(client.token or "", client.base_url, client.timeout, repeatable=False)
        self._sleep = sleep
        self._channel_ids: dict[str, str] = {}  # "#incidents" -> id: one conversations.list, not one per post
        # response_url posts over kept-alive connections (one pool per host, as many as the listeners' pool):
        # a new TLS connection per answer cost more than the answer, on the replica's CPU that acks Slack
        self._hooks = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False, timeout=client.timeout)

    def _call(self, method: str, **params) -> dict:
        """Call ``method``; retry what is transient, join on ``not_in_channel``."""
        params = {k: v for k, v in params.items() if v is not None}
        client = self._once if method in NOT_REPEATABLE else self.client
        call = getattr(client, method.replace(".", "_"))  # the SDK's typed method
        joined = False
        for attempt, delay in enumerate((*_EVENTUAL_DELAYS, None)):
            try:
                return call(**params).data  # type: ignore[return-value]
            except SlackApiError as exc:
                error = str(exc.response.get("error", "unknown_error"))
                telemetry.call_failed("slack", error)
                if error == "not_in_channel" and not joined and params.get("channel"):
                    joined = True
                    try:
                        self.client.conversations_join(channel=params["channel"])
                    except SlackApiError:
                        raise SlackFailure(method, error) from exc
                    continue
                if error in _EVENTUAL and delay is not None:
                    log.info("%s: %s, retry %d in %.1fs", method, error, attempt + 1, delay)
                    self._sleep(delay)
                    continue
                raise SlackFailure(method, error, uncertain=exc.response.status_code >= 500) from exc
            except (SlackRequestError, OSError) as exc:
                telemetry.call_failed("slack", "unreachable")
                raise SlackFailure(method, f"Slack could not be reached ({exc})", uncertain=True) from exc
        raise SlackFailure(method, "retries exhausted")

    # channels -----------------------------------------------------------------
    def create_channel(self, base: str, private: bool = False) -> Channel:
        """Create ``base``, or ``base-2``, ``base-3`` ... when the name is taken."""
        for suffix in range(1, 51):
            name = channel_name(base, suffix)
            for attempt in range(LOOKUP_ATTEMPTS):
                try:
                    data = self._call("conversations.create", name=name, is_private=private or None)
                    return Channel(data["channel"]["id"], data["channel"]["name"])
                except SlackFailure as exc:
                    if exc.error == "name_taken" and attempt == 0:
                        break  # somebody else's: try the next suffix
                    if exc.error == "name_taken" or exc.uncertain:
                        found = self._find_channel(name)  # it may be ours, created before the answer was lost
                        if found is not None:
                            return found
                        if exc.error == "name_taken":
                            break
                        if attempt < LOOKUP_ATTEMPTS - 1:
                            continue
                    raise
        raise SlackFailure("conversations.create", f"every name from {base} to {base}-50 is taken")

    def _find_channel(self, name: str) -> Channel | None:
        try:
            return Channel(self.channel_id(f"#{name}"), name)
        except SlackFailure:
            return None

    def invite(self, channel: str, users: Iterable[str]) -> list[str]:
        """Invite each user; returns the ones Slack refused (someone unknown must not block the rest)."""
        refused = []
        for user in dict.fromkeys(u for u in users if u):
            try:
                self._call("conversations.invite", channel=channel, users=user)
            except SlackFailure as exc:
                if exc.error not in ("already_in_channel", "cant_invite_self"):
                    refused.append(user)
                    log.warning("could not invite %s to %s: %s", user, channel, exc.error)
        return refused

    def is_member(self, channel: str, user: str) -> bool:
        """Whether ``user`` is in ``channel`` (conversations.members, page by page); raises SlackFailure when
        Slack cannot say (e.g. ``channel_not_found``: a private channel the bot is not in), so callers fail closed."""
        cursor = None
        while True:
            data = self._call("conversations.members", channel=channel, limit=200, cursor=cursor)
            if user in data.get("members", []):
                return True
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False

    def message(self, channel: str, ts: str) -> dict | None:
        """The message ``ts`` of ``channel`` (conversations.history, inclusive, one message); None when gone."""
        data = self._call("conversations.history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        return next((m for m in data.get("messages", []) if m.get("ts") == ts), None)

    def set_topic(self, channel: str, topic: str) -> None:
        self._call("conversations.setTopic", channel=channel, topic=topic[:250])

    def channel_id(self, name_or_id: str) -> str:
        """Resolve ``#incidents`` to its id; ids pass through."""
        name = name_or_id.lstrip("#")
        if re.fullmatch(r"[CG][A-Z0-9]{2,}", name):
            return name
        if name in self._channel_ids:
            return self._channel_ids[name]
        cursor = None
        while True:
            data = self._call("conversations.list", limit=200, exclude_archived=True, cursor=cursor)
            for ch in data.get("channels", []):
                if ch["name"] == name:
                    self._channel_ids[name] = ch["id"]
                    return ch["id"]
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise SlackFailure("conversations.list", f"channel #{name} not found")

    # messages -----------------------------------------------------------------
    def post(self, channel: str, text: str, blocks: list[dict] | None = None) -> str:
        """Post once: after a lost answer the channel is searched for this message before posting again."""
        tag = uuid.uuid4().hex
        metadata = {"event_type": MESSAGE_EVENT, "event_payload": {"id": tag}}
        for attempt in range(LOOKUP_ATTEMPTS):
            try:
                return self._call("chat.postMessage", channel=channel, text=text, blocks=blocks, metadata=metadata)[
                    "ts"
                ]
            except SlackFailure as exc:
                if not exc.uncertain or attempt == LOOKUP_ATTEMPTS - 1:
                    raise
                posted = self._posted(channel, tag)
                if posted:
                    return posted
                self._sleep(_EVENTUAL_DELAYS[attempt])
        raise AssertionError("unreachable")

    def _posted(self, channel: str, tag: str) -> str | None:
        """The ts of the message tagged ``tag`` among the channel's newest, if Slack has it."""
        try:
            data = self._call("conversations.history", channel=channel, limit=50, include_all_metadata=True)
        except SlackFailure:
            return None
        for message in data.get("messages", []):
            if ((message.get("metadata") or {}).get("event_payload") or {}).get("id") == tag:
                return message["ts"]
        return None

    def respond(self, response_url: str, text: str, blocks: list[dict] | None = None) -> None:
        """A private answer to a command or a click through its ``response_url`` (ephemeral, the message it came
        from kept). Not repeated: a lost answer may have been shown."""
        body = {"text": text, "response_type": "ephemeral", "replace_original": False}
        if blocks:
            body["blocks"] = blocks
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            answer = self._hooks.request("POST", response_url, body=json.dumps(body).encode(), headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise SlackFailure("response_url", f"Slack could not be reached ({exc})", uncertain=True) from exc
        if answer.status != 200:
            error = f"HTTP {answer.status} {answer.data[:120].decode(errors='replace')}"
            raise SlackFailure("response_url", error, uncertain=answer.status >= 500)

    def close(self) -> None:
        self._hooks.clear()

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def pin(self, channel: str, ts: str) -> None:
        try:
            self._call("pins.add", channel=channel, timestamp=ts)
        except SlackFailure as exc:
            if exc.error != "already_pinned":
                raise

    def open_view(self, trigger_id: str, view: dict) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def user_name(self, user: str) -> str:
        """A display name for documents; the id itself when Slack does not know the user."""
        try:
            profile = self._call("users.info", user=user)["user"]
        except SlackFailure:
            return user
        return profile.get("real_name") or profile.get("name") or user

    def upload(self, channel: str, filename: str, content: str, title: str, comment: str) -> None:
        """Upload a text file (the postmortem) with the two-step external upload."""
        try:
            self.client.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, initial_comment=comment
            )
        except SlackApiError as exc:
            telemetry.call_failed("slack", str(exc.response.get("error", "unknown_error")))
            raise SlackFailure("files.upload", str(exc.response.get("error"))) from exc
        except (SlackRequestError, OSError) as exc:
            telemetry.call_failed("slack", "unreachable")
            raise SlackFailure("files.upload", f"Slack could not be reached ({exc})") from exc

"""Secrets never reach a log line or the terminal: Slack tokens, passwords in URLs, and every secret the bot was
given (``remember``: the signing secret, the fingerprint key, the database and Prometheus passwords) are masked."""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, urlsplit

_PATTERNS = (
    (re.compile(r"\b(xox[abeoprs]|xapp)-[A-Za-z0-9-]+"), r"\1-***"),  # Slack bot, user, app-level tokens
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE), r"\1***@"),  # scheme://user:pw@
)
MIN_SECRET = 4  # shorter values would mask ordinary words
_secrets: tuple[str, ...] = ()  # the longest first (one may contain another); replaced whole, never changed
_lock = threading.Lock()


def remember(*values: str | None) -> None:
    """Mask these exact values from now on, wherever they appear; of a URL, its password (plain and decoded)."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        if "://" not in value:
            found.add(value)
        else:  # a URL: only its password is secret (a database's path or host helps whoever reads the log)
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found |= {password, unquote(password)}
    global _secrets
    with _lock:
        _secrets = tuple(sorted({*_secrets, *(v for v in found if len(v) >= MIN_SECRET)}, key=len, reverse=True))


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (and its traceback text) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        if message != record.msg or record.args:
            record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


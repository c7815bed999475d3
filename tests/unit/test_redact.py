"""Secrets never reach a log line or the terminal."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys

from bot.redact import RedactingFilter, redact
from bot.state.db import Database

TOKEN = "xoxb-1234-5678-abcdefSECRET"
URL = "postgresql+psycopg://bot:pa55word@db.internal:5432/rollback"


def test_tokens_and_url_passwords_are_masked():
    assert redact(f"calling with {TOKEN}") == "calling with xoxb-***"
    assert redact("app token xapp-1-A0-123-ff") == "app token xapp-***"
    assert redact(URL) == "postgresql+psycopg://bot:***@db.internal:5432/rollback"
    assert redact("sqlite:///rollback-bot.db") == "sqlite:///rollback-bot.db"


def test_a_log_line_and_its_traceback_are_masked_before_any_handler_writes_them():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    try:
        logger.warning("connecting to %s with %s", URL, TOKEN)
        try:
            raise RuntimeError(f"refused {TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "pa55word" not in text and "SECRET" not in text
    assert "bot:***@db.internal" in text and "xoxb-***" in text and "RuntimeError" in text


def test_the_cli_never_prints_the_database_password(pg_schema_url, tmp_path):
    url = pg_schema_url().replace("postgres@", "postgres:pa55word@", 1)  # trust auth: any password works
    Database(url).migrate()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": "s",
        "ROLLBACK_BOT_CONFIG": "config/services.example.yaml",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", "INC-2026-999"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    shown = done.stdout + done.stderr
    assert "No incident INC-2026-999 in postgresql+psycopg://postgres:***@" in shown
    assert "pa55word" not in shown and "SECRET" not in shown


def test_remembered_secrets_are_masked_and_a_urls_password_too():
    from bot.redact import remember

    remember("signing-secret-9f8e7d", "postgresql+psycopg://bot:p%40ss-w0rd@db:5432/bot", None, "")
    line = redact("secret signing-secret-9f8e7d, password p@ss-w0rd or p%40ss-w0rd, nothing else")
    assert line == "secret ***, password *** or ***, nothing else"

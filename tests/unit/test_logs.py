"""LOG_FORMAT=json: one object per line, naming the incident and run of the context it was logged in."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading

from bot import logs, redact


def logged(log_format: str, fn) -> list[str]:
    stream = io.StringIO()
    logger = logging.getLogger("test.logs")
    handler = logs.handler(log_format, stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        contextvars.Context().run(fn, logger)  # a context of its own: nothing an earlier test bound on this thread
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_a_line_names_the_incident_and_run_bound_around_it_and_only_there():
    def work(logger: logging.Logger) -> None:
        logger.info("before")
        with logs.bound(incident="INC-2026-007", run=12):
            logger.info("during %s", "the run")
        logger.info("after")

    before, during, after = (json.loads(line) for line in logged("json", work))
    assert during["message"] == "during the run" and (during["incident"], during["run"]) == ("INC-2026-007", 12)
    assert "incident" not in before and "incident" not in after and "run" not in after
    assert {"time", "level", "logger", "thread"} <= set(during) and during["level"] == "INFO"


def test_another_thread_does_not_see_this_ones_incident():
    seen: list[str] = []

    def work(logger: logging.Logger) -> None:
        with logs.bound(incident="INC-2026-001"):
            other = threading.Thread(target=logger.info, args=("elsewhere",))
            other.start()
            other.join()

    seen = logged("text", work)
    assert seen == ["INFO test.logs: elsewhere"]


def test_an_exception_is_one_line_with_its_traceback_and_secrets_masked():
    redact.remember("fingerprint-key-0123456789abcdef")

    def work(logger: logging.Logger) -> None:
        try:
            raise RuntimeError("key fingerprint-key-0123456789abcdef rejected")
        except RuntimeError:
            logger.exception("failed with xoxb-123-456")

    (line,) = logged("json", work)
    parsed = json.loads(line)
    assert parsed["message"] == "failed with xoxb-***"
    assert "RuntimeError: key *** rejected" in parsed["exception"]
    assert "fingerprint-key" not in line

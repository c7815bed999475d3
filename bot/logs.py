"""How the bot logs: ``LOG_FORMAT=text`` (the default, for a terminal) or ``json`` (one object per line, for a
log pipeline), every line with the incident and run it is about, every secret masked (``bot.redact``).

The incident key and run id are context variables: bound where the work on an incident or a run begins
(``Runtime.submit`` runs each listener job in a copy of the context, the worker binds a run around it), read
by every line logged under them, in any module, without passing them along.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from bot import redact

INCIDENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("incident", default=None)
RUN: contextvars.ContextVar[int | None] = contextvars.ContextVar("run", default=None)
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s%(about)s"


def bind(incident: str | None = None, run: int | None = None) -> None:
    """From now on in this context (a listener job's own copy), lines name ``incident`` and ``run``."""
    if incident is not None:
        INCIDENT.set(incident)
    if run is not None:
        RUN.set(run)


@contextmanager
def bound(incident: str | None = None, run: int | None = None) -> Iterator[None]:
    """``bind`` for the block only: a pool thread's next task starts clean."""
    tokens = [INCIDENT.set(incident), RUN.set(run)]
    try:
        yield
    finally:
        RUN.reset(tokens[1])
        INCIDENT.reset(tokens[0])


class ContextFilter(logging.Filter):
    """Stamps the record with the emitting context's incident and run (read in the thread that logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.incident, record.run = INCIDENT.get(), RUN.get()
        names = [f"incident={record.incident}"] if record.incident else []
        names += [f"run={record.run}"] if record.run is not None else []
        record.about = f" [{' '.join(names)}]" if names else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, thread, message, incident, run, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for key in ("incident", "run"):
            if getattr(record, key, None) is not None:
                line[key] = getattr(record, key)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact.redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False, default=str)


def handler(log_format: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``log_format`` to ``stream`` (stderr), with the context and the secrets filters."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    made.addFilter(ContextFilter())
    made.addFilter(redact.RedactingFilter())
    return made


def configure(log_format: str = "text", verbose: bool = False) -> logging.Handler:
    """The root logger's one handler (``handler``), at INFO or, ``verbose``, DEBUG."""
    made = handler(log_format)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(made)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return made

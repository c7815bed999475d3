"""Whether this replica should get traffic (``GET /readyz``): its database answers, and some worker is alive.

A web replica that cannot reach the database cannot record anything; without a live worker (a heartbeat
younger than its lease, ``bot.state.workers``) a confirmed rollback would only wait in the queue. Liveness
(``/healthz``) is another question: a replica that is not ready must not be restarted for it.
"""

from __future__ import annotations

import logging

from bot import redact
from bot.runtime import Runtime
from bot.state import workers

log = logging.getLogger(__name__)


def problems(rt: Runtime) -> list[str]:
    """Why this replica is not ready, one line each; empty when it is."""
    try:
        rt.db.ping()
    except Exception as exc:  # whatever the driver raises, the answer is "not ready", in words
        log.warning("readiness: the database does not answer: %s", exc)
        return [f"the database does not answer ({redact.redact(str(exc).splitlines()[0])[:200]})"]
    try:
        if workers.live(rt.db):
            return []
        age = workers.newest_age(rt.db)
    except Exception as exc:  # e.g. the schema predates the workers table: `rollback-bot migrate`
        return [f"cannot read the workers' heartbeats ({redact.redact(str(exc).splitlines()[0])[:200]})"]
    seen = "no worker has ever run" if age is None else f"the newest heartbeat is {age:.0f} s old"
    return [f"no worker is alive ({seen}): rollbacks would wait in the queue; start `rollback-bot worker`"]

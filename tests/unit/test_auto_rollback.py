"""When the automatic rollback may run by itself, and when it only proposes (pure rules)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from bot.config import ServiceConfig, Thresholds
from bot.incidents.auto_rollback import choose, live_minutes
from bot.incidents.cards import countdown_of
from bot.signals.severity import triggered
from bot.slack.views import clock, countdown_text
from bot.state.models import TimelineEvent
from bot.strategies.base import Revision
from handlers.alertmanager import authorized

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
HISTORY = [
    Revision(3, "shop:v1.2.3", created_at=NOW - dt.timedelta(hours=72)),
    Revision(4, "shop:v1.2.4", created_at=NOW - dt.timedelta(hours=2)),
    Revision(5, "shop:v1.2.5", created_at=NOW - dt.timedelta(minutes=5)),
]
GOOD = HISTORY[1]  # live 1 h 55 min


def service(**kw) -> ServiceConfig:
    return ServiceConfig(name="shop", namespace="shop", auto_rollback="execute", **kw)


def test_execute_runs_with_a_known_good_revision_and_no_recent_automatic_rollback():
    choice = choose(service(), HISTORY, GOOD, None, NOW)
    assert choice.mode == "execute" and "live 115 min" in choice.why


@pytest.mark.parametrize(
    ("settings", "last", "why"),
    [
        ({"require_approval": True}, None, "require_approval is set"),
        ({"min_good_minutes": 120}, None, "live only 115 min, less than min_good_minutes (120)"),
        ({}, NOW - dt.timedelta(minutes=59), "started at <!date^1796554860^{time}|11:01 UTC>, within flap_guard (1h)"),
        ({"flap_guard": "30m"}, NOW - dt.timedelta(minutes=20), "within flap_guard (30m)"),
        ({"auto_rollback": "propose"}, None, "auto_rollback is propose"),
    ],
)
def test_execute_only_proposes_when_it_is_not_safe(settings, last, why):
    choice = choose(
        ServiceConfig(name="shop", namespace="shop", **{"auto_rollback": "execute", **settings}),
        HISTORY,
        GOOD,
        last,
        NOW,
    )
    assert choice.mode == "propose" and why in choice.why


def test_flap_guard_ends():
    assert choose(service(), HISTORY, GOOD, NOW - dt.timedelta(minutes=61), NOW).mode == "execute"


def test_a_revision_with_no_rollout_time_is_not_known_good():
    undated = [Revision(4, "shop:v1.2.4"), HISTORY[2]]
    assert live_minutes(undated, undated[0]) is None
    assert "not known good" in choose(service(), undated, undated[0], None, NOW).why
    assert live_minutes(HISTORY, HISTORY[2]) is None, "the live revision has no end yet"


def test_the_countdown_reads_as_a_clock():
    assert [clock(s) for s in (120, 119.2, 9.5, 0.2, -3)] == ["2:00", "2:00", "0:10", "0:01", "0:00"]
    assert countdown_text("v1.2.4 (revision 4)", 120) == (
        "Rolling back to v1.2.4 (revision 4) in 2:00 unless someone clicks *Hold*"
    )


def test_triggers_in_words_and_an_unreadable_signal_breaks_none():
    values = {
        "error_rate": 0.3,
        "success_rate": 0.7,
        "latency_p95": 0.2,
        "memory": None,
        "restarts": 6,
        "http_5xx_rate": 0.3,
    }
    assert triggered(values, Thresholds()) == (
        "Error rate 30% is above 5%",
        "Success rate 70% is below 95%",
        "Restarts 6 is above 5",
    )
    assert triggered(dict.fromkeys(values), Thresholds()) == ()


def test_alertmanager_credentials():
    basic = "Basic " + base64.b64encode(b"alertmanager:t0k").decode()
    assert authorized("Bearer t0k", "t0k", "alertmanager") and authorized(basic, "t0k", "alertmanager")
    assert not authorized(basic, "t0k", "someone")
    assert not authorized("Bearer t0k", None, "alertmanager"), "no token set: nothing gets in"
    assert not authorized("Bearer t0ken", "t0k", "alertmanager") and not authorized("", "t0k", "alertmanager")


def _countdown_event(at: dt.datetime, grace: float, phase: str = "countdown"):
    deadline = at + dt.timedelta(seconds=grace)
    data = {"phase": phase, "plan_id": 7, "deadline": deadline.isoformat(), "grace": grace, "to": "v1.2.4 (rev 2)"}
    return TimelineEvent(kind="auto_rollback", at=at, text="", data=data)


@pytest.mark.parametrize(
    ("after", "shown"),
    [(0, "2:00"), (3, "2:00"), (9.9, "2:00"), (10, "1:50"), (59, "1:10"), (119.5, "0:10"), (130, "0:00")],
)
def test_the_card_countdown_moves_in_ten_second_steps_from_its_start(after, shown):
    events = [_countdown_event(NOW, 120)]
    c = countdown_of(events, NOW + dt.timedelta(seconds=after))
    assert (c.plan_id, c.to_words, clock(c.seconds_left)) == (7, "v1.2.4 (rev 2)", shown)


def test_no_countdown_on_the_card_once_it_ended():
    events = [_countdown_event(NOW, 120), _countdown_event(NOW + dt.timedelta(seconds=5), 120, "held")]
    assert countdown_of(events, NOW + dt.timedelta(seconds=6)) is None
    assert countdown_of([], NOW) is None


def test_what_each_event_asks_of_the_status_page():
    from bot.incidents.status_page import wanted

    assert wanted("assessed", "high") == "degraded_performance"
    assert wanted("assessed", "critical") == "major_outage"
    assert wanted("assessed", "medium") is None and wanted("assessed", None) is None
    assert wanted("rollback_failed", "low") == wanted("verification_failed", "high") == "major_outage"
    assert wanted("resolved", "high") == wanted("dismissed", None) == "operational"
    assert wanted("note", "critical") is None

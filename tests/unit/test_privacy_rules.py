"""The pure rules behind privacy: what the announcements channel may hear, who may read, what a notice says."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.config import Action, Kind, ServiceConfig
from bot.incidents.comms import News, public_news
from bot.signals.severity import Severity
from bot.slack import views

OWNER, ONCALL, VIEWER, DECLARER = "U0OWNER01", "U0ONCALL1", "U0VIEWER1", "U0DECLARE"


@pytest.mark.parametrize("news", list(News))
def test_a_public_incident_announces_everything(news):
    assert public_news(news, private=False) is True


def test_a_private_incident_announces_only_that_it_was_declared():
    assert public_news(News.DECLARED, private=True) is None  # the one-line notice instead of the news
    assert public_news(News.UPDATE, private=True) is False
    assert public_news(News.RESOLVED, private=True) is False


def test_reads_are_for_the_responders_and_declaring_does_not_grant_them():
    svc = ServiceConfig(name="cart", namespace="shop", owners=(OWNER,), rollback_allowed=(ONCALL,))
    for action in (Action.READ_HISTORY, Action.READ_CONFIG):
        assert action.kind is Kind.READ
        assert svc.may(action, OWNER, None) and svc.may(action, ONCALL, None)
        assert not svc.may(action, VIEWER, None)
        assert not svc.may(action, DECLARER, DECLARER), "anyone may declare: that must not open the config"
        assert svc.who_may(action, DECLARER) == (OWNER, ONCALL)
    listed = ServiceConfig(name="cart", namespace="shop", rollback_allowed=(ONCALL,), responders=(VIEWER,))
    assert listed.may(Action.READ_CONFIG, VIEWER, None) and not listed.may(Action.READ_CONFIG, ONCALL, None)


def test_the_private_notice_names_the_service_and_severity_and_nothing_else():
    text = json.dumps(views.private_announcement("INC-2026-004", "cart", Severity.HIGH))
    assert "A private incident was declared for *cart*, severity *High*" in text
    assert "<#" not in text, "no link to the private channel"
    assert "not yet assessed" in json.dumps(views.private_announcement("INC-2026-004", "cart", None))


def test_status_says_when_private_incidents_could_not_be_checked():
    info = views.CardInfo(
        incident_key="INC-2026-001",
        service="cart",
        namespace="shop",
        status="open",
        reason="",
        declared_by=ONCALL,
        lead=ONCALL,
        created_at=dt.datetime(2026, 12, 4, tzinfo=dt.UTC),
        current=None,
        target=None,
        assessment=None,
    )
    assert views.status_reply([info], 0) == views.status_blocks([info])
    both = json.dumps(views.status_reply([info], 2))
    assert "INC-2026-001" in both and "2 private incident(s) could not be checked" in both
    alone = json.dumps(views.status_reply([], 1))
    assert "No open incidents" not in alone and "1 private incident(s) could not be checked" in alone

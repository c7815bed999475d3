"""The card of a rollback that waits for a worker slot says how many it waits behind."""

from __future__ import annotations

import json

from bot.slack import views as v
from tests.slack.views.support import assert_valid, with_run


def shown(info: v.CardInfo) -> str:
    blocks = v.incident_card(info)
    assert_valid(blocks)
    return json.dumps(blocks)


def test_a_queued_run_says_how_many_rollbacks_it_waits_behind() -> None:
    text = shown(with_run("pending", queued_behind=4))
    assert "Queued behind 4 rollbacks" in text and "does not expire while the workers are busy" in text
    assert "Nothing has changed yet" in text
    assert "Queued behind 1 rollback*" in shown(with_run("pending", queued_behind=1))


def test_a_run_that_started_or_waits_for_nobody_is_not_queued() -> None:
    assert "Queued" not in shown(with_run("pending"))
    assert "Queued" not in shown(with_run("running", queued_behind=3))

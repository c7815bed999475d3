"""How an env-only rollback is asked for: only Deployments get it, and the messages say the image is kept."""

from __future__ import annotations

import pytest

from bot.config import ServiceConfig
from bot.incidents.decisions import _target, _to_words
from bot.strategies.base import Plan, Revision, RollbackError

IMAGE = "registry.local/shop:v1.2.5"


def test_a_deployment_gets_the_env_only_target_and_others_are_told_why_not():
    assert _target(ServiceConfig("shop", "shop"), 2, True).env_only
    assert not _target(ServiceConfig("shop", "shop"), 2, False).env_only
    with pytest.raises(RollbackError, match="offered only by the kubernetes strategy; ledger uses statefulset"):
        _target(ServiceConfig("ledger", "ledger", strategy="statefulset"), 2, True)


def test_the_decision_names_the_env_and_the_kept_image():
    plan = Plan("kubernetes", _target(ServiceConfig("shop", "shop"), 2, True), Revision(3, IMAGE), Revision(2, IMAGE))
    assert _to_words(plan) == "the env of revision 2 (image v1.2.5 kept)"
    undo = Plan("kubernetes", _target(ServiceConfig("shop", "shop"), 2, False), Revision(3, IMAGE), Revision(2, IMAGE))
    assert _to_words(undo) == "v1.2.5 (revision 2)"

"""The service's config as states: every change of the ConfigMap or a Secret is a version (pure)."""

from __future__ import annotations

import datetime as dt

from bot.providers.kubernetes.config_states import config_states
from bot.state.models import ConfigVersion

AT = dt.datetime(2026, 12, 3, 7, 0, tzinfo=dt.UTC)


def version(id_: int, kind: str, name: str, data_hash: str, changed=(), by="") -> ConfigVersion:
    return ConfigVersion(
        id=id_, namespace="pricing", kind=kind, name=name, resource_version=str(id_), data_hash=data_hash,
        keys={}, changed_keys=list(changed), data=None, changed_by=by, changed_at=AT, seen_at=AT,
    )


CM, SECRET = ("ConfigMap", "pricing-config"), ("Secret", "pricing-credentials")


def test_each_later_version_of_any_object_is_the_next_state_in_the_order_recorded():
    cm1, s1 = version(1, *CM, "a"), version(2, *SECRET, "x")
    cm2 = version(3, *CM, "b", ["PRICE_SOURCE"], "kubectl-edit")
    s2 = version(4, *SECRET, "y", ["token"], "kubectl-patch")
    states = config_states({CM: [cm1, cm2], SECRET: [s1, s2]})
    assert [s.number for s in states] == [1, 2, 3]
    assert states[0].versions == {CM: cm1, SECRET: s1}
    assert states[1].versions == {CM: cm2, SECRET: s1}, "the ConfigMap changed first"
    assert states[2].versions == {CM: cm2, SECRET: s2}
    assert [s.describe(states[: s.number - 1]) for s in states] == [
        "first seen",
        "ConfigMap pricing-config: changed PRICE_SOURCE by kubectl-edit",
        "Secret pricing-credentials: changed token by kubectl-patch",
    ]


def test_a_state_equal_to_an_earlier_one_says_it_went_back():
    cm1, cm2, cm3 = version(1, *CM, "a"), version(2, *CM, "b", ["K"]), version(3, *CM, "a", ["K"], "rollback-bot")
    states = config_states({CM: [cm1, cm2, cm3], SECRET: []})
    assert states[-1].describe(states[:2]) == "ConfigMap pricing-config: back to v1 by rollback-bot"
    assert config_states({CM: [], SECRET: []}) == []

"""What a system actor may do: declare and propose by default; more only where the catalog names it; never
approve. A person's rights are the catalog's, as before."""

from __future__ import annotations

import pytest

from bot.config import Action, ServiceConfig
from bot.incidents.actors import SlackUser, SystemActor, is_system
from bot.incidents.permissions import may

AUTO = SystemActor("auto-rollback")
ANYONE_MAY = ServiceConfig(name="shop", namespace="shop", owners=("U_OWNER",))  # rollback_allowed: "*"


def test_by_default_a_system_actor_declares_and_proposes_only_even_where_anyone_may():
    allowed = {a for a in Action if may(ANYONE_MAY, AUTO, a, declared_by=AUTO.id)}
    assert allowed == {Action.DECLARE, Action.ROLL_BACK, Action.CHOOSE_REVISION}
    person = SlackUser("U_SOMEONE", "", "", lambda *a: None)
    assert may(ANYONE_MAY, person, Action.CONFIRM, None), "a person: the catalog's rule, as before"


def test_the_catalog_can_name_a_system_actor_but_it_never_approves():
    named = ServiceConfig(
        name="shop",
        namespace="shop",
        rollback_allowed=("U_ONCALL", AUTO.id),
        responders=("U_ONCALL", AUTO.id),
        require_approval=True,
    )
    assert may(named, AUTO, Action.CONFIRM, None) and may(named, AUTO, Action.SCALE_TO_ZERO, None)
    assert may(named, AUTO, Action.DISMISS, None)
    assert not may(named, AUTO, Action.APPROVE, None), "approving is a second person's"
    assert not may(named, SystemActor("alertmanager"), Action.CONFIRM, None), "only the system named"


def test_a_system_actor_is_recorded_as_system_and_has_a_short_name():
    assert (AUTO.id, AUTO.mention, AUTO.data) == (
        "system:auto-rollback",
        "system: auto-rollback",
        {"kind": "system", "name": "auto-rollback"},
    )
    assert is_system(AUTO.id) and not is_system("U_ONCALL") and not is_system(None)
    for bad in ("", "Alertmanager", "a" * 26, "has space"):
        with pytest.raises(ValueError):
            SystemActor(bad)

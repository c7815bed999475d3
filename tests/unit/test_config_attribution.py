"""Who made a ConfigMap or Secret version, from its managedFields (pure): the owner of the changed keys."""

from __future__ import annotations

import datetime as dt

from bot.state.config_versions import changed_by

T0, T1 = "2026-12-04T03:00:00Z", "2026-12-04T03:10:07Z"


def entry(manager: str, when: str, *keys: str, annotations: bool = False) -> dict:
    fields: dict = {"f:data": {f"f:{k}": {} for k in keys}} if keys else {}
    if annotations:
        fields["f:metadata"] = {"f:annotations": {"f:note": {}}}
    return {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": when,
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def at(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when.replace("Z", "+00:00"))


def test_the_owner_of_the_changed_keys_wins_over_an_entry_of_the_same_second_that_owns_none():
    """A restore in the second of the edit it undid: the edit keeps only an annotation, and is listed first
    (the API server orders a second's entries by name)."""
    fields = [entry("kubectl-client-side-apply", T0, "CURRENCY"), entry("kubectl-edit", T1, annotations=True),
              entry("rollback-bot", T1, "PRICE_SOURCE")]
    assert changed_by(fields, ["PRICE_SOURCE"]) == ("rollback-bot", at(T1))
    assert changed_by(list(reversed(fields)), ["PRICE_SOURCE"]) == ("rollback-bot", at(T1)), "order never counts"


def test_an_older_owner_never_wins_over_a_newer_one():
    fields = [entry("helm", T0, "CURRENCY"), entry("kubectl-edit", T1, "PRICE_SOURCE")]
    assert changed_by(fields, ["CURRENCY", "PRICE_SOURCE"]) == ("kubectl-edit", at(T1))
    assert changed_by(fields, ["CURRENCY"]) == ("helm", at(T0)), "the newer entry did not change CURRENCY"


def test_owners_of_changed_keys_in_the_same_second_are_all_named():
    fields = [entry("kubectl-edit", T1, "PRICE_SOURCE"), entry("argocd-controller", T1, "CURRENCY")]
    assert changed_by(fields, ["CURRENCY", "PRICE_SOURCE"]) == ("argocd-controller, kubectl-edit", at(T1))


def test_a_change_nobody_owns_is_unknown_rather_than_guessed():
    """Removing a key takes no field: the API server leaves no newer entry to tell who removed it."""
    fields = [entry("kubectl-client-side-apply", T0, "CURRENCY"), entry("kubectl-edit", T1, annotations=True)]
    assert changed_by(fields, ["PRICE_SOURCE"]) == ("", None)


def test_without_fields_the_newest_entry_counts_only_when_it_is_alone_in_its_second():
    plain = [{"manager": "helm", "time": T0}, {"manager": "kubectl-edit", "time": T1}]
    assert changed_by(plain, ["PRICE_SOURCE"]) == ("kubectl-edit", at(T1))
    tied = [*plain, {"manager": "rollback-bot", "time": T1}]
    assert changed_by(tied, ["PRICE_SOURCE"]) == ("", None)
    assert changed_by([], ["PRICE_SOURCE"]) == ("", None)

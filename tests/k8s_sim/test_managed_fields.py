"""managedFields as the API server keeps them, seen with the real kubectl: a write takes the fields it sets
from their previous owner, an owner left with nothing loses its entry, and a write that only removes keys
takes nothing."""

from __future__ import annotations

import json


def managed(sim) -> dict[str, dict]:
    out = sim.ok("-n", "pricing", "get", "configmap", "pricing-config", "-o", "json", "--show-managed-fields")
    return {m["manager"]: m for m in json.loads(out)["metadata"]["managedFields"]}


def data_keys(entry: dict) -> set[str]:
    return {k[2:] for k in entry["fieldsV1"].get("f:data", {})}


def patch(sim, manager: str, body: dict) -> None:
    sim.ok("-n", "pricing", "patch", "configmap", "pricing-config", "--type", "merge",
           "--field-manager", manager, "-p", json.dumps(body))


def test_a_write_takes_the_fields_it_changes_and_the_previous_owner_loses_them(sim):
    seeded = managed(sim)
    assert data_keys(seeded["kubectl-client-side-apply"]) == {"PRICE_SOURCE", "CACHE_TTL_SECONDS", "CURRENCY"}

    patch(sim, "kubectl-edit", {"data": {"PRICE_SOURCE": "legacy-api", "CURRENCY": "EUR"}})  # CURRENCY unchanged
    after_edit = managed(sim)
    assert data_keys(after_edit["kubectl-edit"]) == {"PRICE_SOURCE"}, "a value set to what it was is not taken"
    assert data_keys(after_edit["kubectl-client-side-apply"]) == {"CACHE_TTL_SECONDS", "CURRENCY"}

    patch(sim, "rollback-bot", {"data": {"PRICE_SOURCE": "catalog-api"}})
    after_restore = managed(sim)
    assert "kubectl-edit" not in after_restore, "an owner left with no field has no entry"
    assert data_keys(after_restore["rollback-bot"]) == {"PRICE_SOURCE"}

    patch(sim, "kubectl-edit", {"data": {"CACHE_TTL_SECONDS": None}})  # removes a key: takes nothing
    after_removal = managed(sim)
    assert "kubectl-edit" not in after_removal
    assert data_keys(after_removal["kubectl-client-side-apply"]) == {"CURRENCY"}
    assert list(after_removal) == sorted(after_removal, key=lambda m: (after_removal[m]["time"], m))

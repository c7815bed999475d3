"""Secrets in a config rollback: put back the values a Secret had, without the bot ever holding them.

The choice: a Secret is restored only from **another Secret that still exists** and holds exactly the
recorded values (equal hashes), such as the previous Secret a ``secretGenerator`` or a rotation left
behind: equal HMACs under CONFIG_FINGERPRINT_KEY, the key the versions were recorded with. The
alternative, an encrypted snapshot in the bot's database, would make the bot a store of every secret it
watches, with a key to guard and rotate next to the data it protects; a leaked database or key would leak
them all. Here the database holds key names and hashes only, and the values travel from one Secret to the
other inside the cluster's API, at the moment of the restore. When no Secret holds the old values, the
plan says so and leaves the Secret alone: restore it from where it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.providers.kubernetes.api import Api, Call, CallFailed, Obj, explain
from bot.strategies.base import Check, RollbackError
from bot.strategies.versions import (
    SECRETS_NOT_TRACKED,
    Fingerprints,
    RecordedVersion,
    VersionStore,
    utc,
    values_of,
    version_diff,
)


@dataclass(frozen=True)
class SecretPlan:
    """What a plan says about one Secret: lines for people, and at most one restore (as plan operations)."""

    changes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    restore: dict | None = None  # {"secret", "source", "data_hash", "guard"}: no value, ever


def read_secret(api: Api, namespace: str, name: str) -> Obj | None:
    """The Secret, or None when it does not exist."""
    try:
        return api.read(Call("get", "secrets", namespace, name))
    except CallFailed as failed:
        if failed.status == 404:
            return None
        raise explain(failed, "nothing was changed") from failed


def plan_secret(
    api: Api, store: VersionStore, namespace: str, name: str, wanted: RecordedVersion | None
) -> SecretPlan:
    """The Secret back to the ``wanted`` recorded version, from another Secret that holds those values (equal
    hashes, made with the same key)."""
    prints = store.prints
    if not prints.tracks("Secret"):
        return SecretPlan(warnings=(f"Secret {name} (config.secrets) is left as it is. {SECRETS_NOT_TRACKED}",))
    live = read_secret(api, namespace, name)
    if live is None:
        return SecretPlan(warnings=(f"Secret {name} (config.secrets) does not exist; it is left alone",))
    if wanted is None or wanted.data_hash == prints.data_hash("Secret", values_of(live)):
        return SecretPlan()
    recorded = store.versions(namespace, "Secret", name)
    changed = "; ".join(version_diff(recorded[-1], wanted))
    try:
        others = api.read(Call("list", "secrets", namespace)).get("items") or []
    except CallFailed as failed:
        raise explain(failed, "nothing was changed") from failed
    source = next(
        (
            s["metadata"]["name"]
            for s in sorted(others, key=lambda s: s["metadata"]["name"])
            if s["metadata"]["name"] != name and prints.data_hash("Secret", values_of(s)) == wanted.data_hash
        ),
        None,
    )
    when = f"{utc(wanted.seen_at):%Y-%m-%d %H:%M} UTC"
    if source is None:
        return SecretPlan(
            warnings=(
                f"Secret {name} has changed since {when} ({changed}), and no Secret in {namespace} holds its "
                "earlier values. The bot never stores Secret values, so it leaves this Secret as it is: restore "
                "it from where it is kept (your secret manager, a sealed secret in Git) if the old values are "
                "needed.",
            )
        )
    return SecretPlan(
        changes=(
            f"Secret {name} back to its values of {when} ({changed}), copied from Secret {source}, which holds "
            "exactly those values (same hashes); no value is shown or stored",
        ),
        restore={
            "secret": name,
            "source": source,
            "data_hash": wanted.data_hash,
            "guard": live["metadata"].get("resourceVersion", ""),
        },
    )


def _holds_data(prints: Fingerprints, secret: Obj | None, digest: str) -> bool:
    """Whether ``secret`` holds the data fingerprinted ``digest`` (no key any more: cannot tell, so no)."""
    return secret is not None and prints.tracks("Secret") and prints.data_hash("Secret", values_of(secret)) == digest


def holds(api: Api, prints: Fingerprints, namespace: str, restore: dict) -> bool:
    return _holds_data(prints, read_secret(api, namespace, restore["secret"]), restore["data_hash"])


def apply_secret(api: Api, prints: Fingerprints, namespace: str, restore: dict) -> None:
    """Copy the source Secret's data over the Secret (guarded by the resourceVersion the plan saw)."""
    if not prints.tracks("Secret"):  # the bot restarted without its key since the plan: it cannot check
        raise RollbackError(f"Secret {restore['secret']} was not restored. {SECRETS_NOT_TRACKED}")
    if holds(api, prints, namespace, restore):
        return  # a resumed run: already restored
    name, source_name = restore["secret"], restore["source"]
    source = read_secret(api, namespace, source_name)
    if not _holds_data(prints, source, restore["data_hash"]):
        raise RollbackError(
            f"Secret {source_name}, the source of Secret {name}'s earlier values, is gone or has changed since "
            f"the plan was made; Secret {name} was not restored. Plan the rollback again."
        )
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": restore["guard"]},
        {"op": "replace", "path": "/data", "value": dict(source.get("data") or {})},
    ]
    try:
        api.write(Call("patch", "secrets", namespace, name), ops)
    except CallFailed as failed:
        if holds(api, prints, namespace, restore):
            return
        if failed.status == 422:
            raise RollbackError(
                f"Secret {namespace}/{name} changed after this plan was made; it was not restored. "
                "Plan the rollback again."
            ) from failed
        raise explain(failed, f"Secret {name} was not restored (the bot read it again to make sure)") from failed


def secret_check(api: Api, prints: Fingerprints, namespace: str, restore: dict) -> Check:
    ok = holds(api, prints, namespace, restore)
    return Check(f"secret {restore['secret']}", ok, f"Secret {restore['secret']} {'holds' if ok else 'lost'} "
                 "the values restored")

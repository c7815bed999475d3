"""A service's config as a sequence of states: the revisions a config rollback chooses between (pure).

A service's config is its ConfigMap plus the Secrets of ``config.secrets``. State 1 is every object's
first recorded version; each later version of any of them, in the order the tracker recorded them,
makes the next state. So a bad Secret rotation is a state of its own, and rolling back to the state
before it restores that Secret even though the ConfigMap never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.strategies.versions import RecordedVersion

Key = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class ConfigState:
    number: int
    versions: dict[Key, RecordedVersion]  # each object's version in this state
    change: RecordedVersion | None  # the version that made this state (None for state 1)

    def same_as(self, other: ConfigState) -> bool:
        return {k: v.data_hash for k, v in self.versions.items()} == {
            k: v.data_hash for k, v in other.versions.items()
        }

    def describe(self, earlier: list[ConfigState]) -> str:
        """What made this state, for the history and the card: "ConfigMap x: changed A, B by kubectl-edit"."""
        if self.change is None:
            return "first seen"
        v = self.change
        back = next((s.number for s in earlier if s.same_as(self)), None)
        keys = ", ".join(v.changed_keys[:5]) + ("…" if len(v.changed_keys) > 5 else "")
        what = f"{v.kind} {v.name}: " + (f"back to v{back}" if back else f"changed {keys}")
        return what + (f" by {v.changed_by}" if v.changed_by else "")


def config_states(histories: dict[Key, list[RecordedVersion]]) -> list[ConfigState]:
    """Oldest first; an object with no recorded version is left out."""
    recorded = {k: vs for k, vs in histories.items() if vs}
    if not recorded:
        return []
    states = [ConfigState(1, {k: vs[0] for k, vs in recorded.items()}, None)]
    for version in sorted((v for vs in recorded.values() for v in vs[1:]), key=lambda v: v.id):
        versions = {**states[-1].versions, (version.kind, version.name): version}
        states.append(ConfigState(len(states) + 1, versions, version))
    return states

"""Who may do what on an incident: every action, its kind, and which catalog list each kind is open to."""

from __future__ import annotations

import enum

ANYONE = "*"


class Kind(enum.StrEnum):
    """Who an action is open to: the catalog's ``rollback_allowed``, its ``responders``, or anyone."""

    ROLLBACK = "rollback"  # changes what runs in production
    RESPOND = "respond"  # works the incident without changing production
    READ = "read"  # sees what runs (images, change-causes, ConfigMap values): the responders, never the declarer
    ANYONE = "anyone"  # anyone in the workspace


class Action(enum.StrEnum):
    """Every action a person can take on an incident, each of one ``Kind``."""

    DECLARE = "declare"
    ROLL_BACK = "roll_back"
    CHOOSE_REVISION = "choose_revision"
    CONFIRM = "confirm"
    APPROVE = "approve"
    CANCEL = "cancel"
    SCALE_TO_ZERO = "scale_to_zero"
    STEER = "steer"  # hold, resume or go to 0 % during a canary step-down
    DELETE_RELEASE = "delete_release"  # delete the bad blue-green colour (a second person)
    RESUME_SYNC = "resume_sync"  # turn GitOps sync back on after a rollback suspended it
    FORWARD_FIX = "forward_fix"
    DISMISS = "dismiss"
    STATUS_UPDATE = "status_update"
    RESOLVE = "resolve"
    PAGE_ESCALATION = "page_escalation"
    NOTE = "note"  # /rollback note, and a 📌 on a message of the incident channel
    ASSIGN_ROLE = "assign_role"  # /rollback lead @user, /rollback comms @user
    READ_HISTORY = "read_history"  # /rollback history <service>
    READ_CONFIG = "read_config"  # /rollback config <service>

    @property
    def kind(self) -> Kind:
        return next(kind for kind, actions in ACTIONS_BY_KIND.items() if self in actions)


# The whole rule; README.md ("Who may do what") shows it as a table.
ACTIONS_BY_KIND: dict[Kind, tuple[Action, ...]] = {
    Kind.ANYONE: (Action.DECLARE,),
    Kind.ROLLBACK: (
        Action.ROLL_BACK,
        Action.CHOOSE_REVISION,
        Action.CONFIRM,
        Action.APPROVE,
        Action.CANCEL,
        Action.SCALE_TO_ZERO,
        Action.STEER,
        Action.DELETE_RELEASE,
        Action.RESUME_SYNC,
    ),
    Kind.RESPOND: (
        Action.FORWARD_FIX,
        Action.DISMISS,
        Action.STATUS_UPDATE,
        Action.RESOLVE,
        Action.PAGE_ESCALATION,
        Action.NOTE,
        Action.ASSIGN_ROLE,
    ),
    Kind.READ: (Action.READ_HISTORY, Action.READ_CONFIG),
}

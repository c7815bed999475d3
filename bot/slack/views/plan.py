"""The dry-run plan message: what will change, then Confirm / Cancel (or Approve); once decided, who decided."""

from __future__ import annotations

from bot.slack.views.blocks import (
    ActionId,
    _actions,
    _button,
    _context,
    _finish,
    _lines,
    _section,
    encode_value,
    escape,
    user,
)
from bot.strategies.base import Plan


def plan_confirmation(
    plan: Plan,
    requested_by: str,
    require_approval: bool,
    incident_key: str,
    plan_id: int | None = None,
    after_run: int = 0,
) -> list[dict]:
    """The dry run: what will change, then Confirm / Cancel (or Approve, for a second person).

    The buttons carry ``plan_id``: a click decides exactly this plan, never a newer one. *Finish the switch …
    instead* plans anew, so it carries the run the plan was shown after (``after_run``, 0: none), as the card's
    buttons do: a click after a newer run is refused as stale.
    """
    key = encode_value(incident_key, None, plan_id)
    blocks = [_heading(plan)]
    if plan.skipped:
        blocks.append(
            _section(
                f":ballot_box_with_check: *Nothing to do: {escape(plan.skipped)}.*\n"
                "Nothing was changed. Choose another revision on the incident card, "
                "or fix forward."
            )
        )
        return blocks + [_actions(_button("Close", ActionId.CANCEL_ROLLBACK, key))]
    changes = _lines(escape(c) for c in plan.changes) or "• (no changes listed)"
    blocks.append(_section(f":information_source: *Nothing has changed yet.* This will:\n{changes}"))
    if plan.warnings:
        blocks.append(_section(":warning: *Before you confirm:*\n" + _lines(escape(w) for w in plan.warnings)))
    if plan.skips:
        blocks.append(_section(":fast_forward: *The run skips:*\n" + _lines(escape(w) for w in plan.skips)))
    value = encode_value(incident_key, plan.desired.number if plan.desired else None, plan_id)
    if require_approval:
        note = (
            f":busts_in_silhouette: This service needs a second person: {user(requested_by)} "
            "asked for this rollback; someone else must approve it."
        )
        label, action = "Approve rollback", ActionId.APPROVE_ROLLBACK
    else:
        note = (
            f"Requested by {user(requested_by)}. Nothing changes until you click "
            "*Confirm rollback*; the incident card then shows progress."
        )
        label, action = "Confirm rollback", ActionId.CONFIRM_ROLLBACK
    buttons = [_button(label, action, value, style="primary"), _button("Cancel", ActionId.CANCEL_ROLLBACK, key)]
    if plan.half_done:
        other = plan.current.title  # a half-done switch can be finished to the colour traffic would leave, too
        note += f" Or *Finish the switch to {escape(other)} instead*: you will see that plan first."
        value = encode_value(incident_key, plan.current.number, after_run)
        buttons.append(_button(f"Finish the switch to {other} instead", ActionId.FINISH_SWITCH, value))
    if plan.env_only_offer and plan.desired:
        note += (
            f" Or *Revert env only*: keep `{escape(plan.current.version)}` and restore only the env of "
            f"{plan.desired.title} (a feature flag, say); you will see that plan first."
        )
        buttons.append(
            _button("Revert env only", ActionId.REVERT_ENV_ONLY, encode_value(incident_key, plan.desired.number))
        )
    return blocks + [_context(note), _actions(*buttons)]


def _heading(plan: Plan) -> dict:
    """``*Rollback plan for shop* (namespace `shop`, kubernetes)`` and the move, current → desired."""
    current = f"{plan.current.title} · `{escape(plan.current.version)}`"
    desired = f"{plan.desired.title} · `{escape(plan.desired.version)}`" if plan.desired else "?"
    if plan.target.env_only and plan.desired:
        desired = f"the env of {plan.desired.title}, image `{escape(plan.current.version)}` kept"
    namespace = plan.target.locator.get("namespace")  # shown when the provider has namespaces
    where = f"namespace `{escape(namespace)}`, " if namespace else ""
    return _section(
        f"*Rollback plan for {escape(plan.target.service)}* ({where}{escape(plan.strategy)})\n{current} → {desired}"
    )


def plan_decided(plan: Plan, requested_by: str, incident_key: str, outcome: str) -> list[dict]:
    """The plan message once someone confirmed or cancelled it: same facts, no buttons, who decided."""
    blocks = [b for b in plan_confirmation(plan, requested_by, False, incident_key) if b["type"] != "actions"]
    return _finish(blocks + [_context(outcome)])

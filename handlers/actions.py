"""Button clicks and selects on the incident card and the plan confirmation."""

from __future__ import annotations

from slack_bolt import App

from bot.incidents import lifecycle as incidents
from bot.runtime import Runtime
from bot.slack.views import ActionId, decode_value
from handlers.common import caller_from


def _value(body: dict) -> str:
    action = body["actions"][0]
    return (action.get("selected_option") or {}).get("value") or action.get("value", "")


def register(app: App, rt: Runtime) -> None:
    def listen(action_id: ActionId, fn) -> None:
        @app.action(action_id.value)
        def listener(ack, body, respond):
            ack()
            value = decode_value(_value(body))
            rt.submit(fn, rt, value.incident_key, caller_from(body, respond), value.revision)

    listen(ActionId.ROLLBACK_PREVIOUS, incidents.request_rollback)
    listen(ActionId.CHOOSE_REVISION, incidents.request_rollback)
    listen(ActionId.CONFIRM_ROLLBACK, incidents.confirm_rollback)
    listen(ActionId.APPROVE_ROLLBACK, incidents.confirm_rollback)
    listen(ActionId.CANCEL_ROLLBACK, incidents.cancel_rollback)
    listen(ActionId.FORWARD_FIX, incidents.forward_fix)
    listen(ActionId.DISMISS, incidents.dismiss)
    listen(ActionId.RESOLVE, incidents.open_resolve)
    listen(ActionId.SCALE_TO_ZERO, incidents.scale_to_zero)
    listen(ActionId.PAGE_ESCALATION, incidents.page_escalation)
    listen(ActionId.POST_UPDATE, incidents.open_status_update)

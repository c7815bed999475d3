"""Button clicks and selects on the incident card and the plan confirmation."""

from __future__ import annotations

from functools import partial

from slack_bolt import App

from bot.incidents import auto_rollback, comms, decisions, paging, resolve, steering, sync
from bot.runtime import Runtime
from bot.slack.views import ActionId, decode_value
from handlers.common import user_from


def _value(body: dict) -> str:
    action = body["actions"][0]
    return (action.get("selected_option") or {}).get("value") or action.get("value", "")


def register(app: App, rt: Runtime) -> None:
    def listen(action_id: ActionId, fn) -> None:
        @app.action(action_id.value)
        def listener(ack, body):
            ack()
            actor = user_from(rt, body)
            rt.submit(fn, rt, decode_value(_value(body)), actor, answer=actor)

    listen(ActionId.ROLLBACK_PREVIOUS, decisions.request_rollback)
    listen(ActionId.CHOOSE_REVISION, decisions.request_rollback)
    listen(ActionId.CONFIRM_ROLLBACK, decisions.confirm_rollback)
    listen(ActionId.APPROVE_ROLLBACK, decisions.confirm_rollback)
    listen(ActionId.CANCEL_ROLLBACK, decisions.cancel_rollback)
    listen(ActionId.FORWARD_FIX, decisions.forward_fix)
    listen(ActionId.DISMISS, decisions.dismiss)
    listen(ActionId.RESOLVE, resolve.open_resolve)
    listen(ActionId.SCALE_TO_ZERO, decisions.scale_to_zero)
    listen(ActionId.PAGE_ESCALATION, paging.offer)
    listen(ActionId.PAGE_SITUATION, paging.choose)
    listen(ActionId.ACK_PAGE, paging.ack)
    listen(ActionId.POST_UPDATE, comms.open_status_update)
    listen(ActionId.HOLD_STEP_DOWN, partial(steering.steer, control="hold"))
    listen(ActionId.RESUME_STEP_DOWN, partial(steering.steer, control="resume"))
    listen(ActionId.GO_TO_ZERO, partial(steering.steer, control="zero"))
    listen(ActionId.DELETE_RELEASE, steering.delete_release)
    listen(ActionId.RESUME_SYNC, sync.resume_sync)
    listen(ActionId.REVERT_ENV_ONLY, decisions.request_env_rollback)
    listen(ActionId.FINISH_SWITCH, decisions.request_rollback)
    listen(ActionId.HOLD_AUTO_ROLLBACK, auto_rollback.hold)
    listen(ActionId.SET_STATUS_PAGE, comms.set_status_page)

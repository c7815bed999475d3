"""The forms: valid views, stable block ids, submitted values parsed."""

from __future__ import annotations

import datetime as dt

from slack_sdk.models.views import View

from bot.slack import views as v
from tests.slack.views.support import assert_valid


def validate_modal(modal: dict) -> None:
    View(**modal).validate_json()
    assert len(modal["title"]["text"]) <= 24
    assert_valid(modal["blocks"])


def test_declare_modal_picks_a_service():
    modal = v.declare_modal(["shopping-service", "billing"])
    validate_modal(modal)
    assert modal["callback_id"] == v.CallbackId.DECLARE
    service = modal["blocks"][0]
    assert service["block_id"] == v.DECLARE_SERVICE and service["element"]["type"] == "static_select"
    assert [o["value"] for o in service["element"]["options"]] == ["billing", "shopping-service"]
    typed = v.declare_modal([f"svc-{n}" for n in range(150)])  # too many for a select
    validate_modal(typed)
    assert typed["blocks"][0]["element"]["type"] == "plain_text_input"
    values = {
        "service": {"service": {"type": "static_select", "selected_option": {"value": "billing"}}},
        "reason": {"reason": {"type": "plain_text_input", "value": "  500s  "}},
    }
    assert v.parse_declare(values) == v.DeclareForm("billing", "500s")


def test_resolve_modal_has_stable_block_ids():
    modal = v.resolve_modal("INC-2026-001")
    validate_modal(modal)
    assert modal["callback_id"] == "resolve" and modal["private_metadata"] == "INC-2026-001"
    ids = {b.get("block_id"): b for b in modal["blocks"]}
    assert ids["root_cause"]["element"]["multiline"] and ids["lessons"]["element"]["multiline"]
    for n in (1, 2, 3):
        assert ids[f"action_{n}_text"]["element"]["type"] == "plain_text_input"
        assert ids[f"action_{n}_owner"]["element"]["type"] == "users_select"
        assert ids[f"action_{n}_due"]["element"]["type"] == "datepicker"


def test_parse_resolve_reads_items_and_flags_half_filled_ones():
    def text(value):
        return {"type": "plain_text_input", "value": value}

    values = {
        "root_cause": {"root_cause": text("new payment client timed out")},
        "impact": {"impact": text("checkout failed for 20 min")},
        "lessons": {"lessons": text(None)},
        "action_1_text": {"action_1_text": text("alert on p95")},
        "action_1_owner": {"action_1_owner": {"type": "users_select", "selected_user": "U0CAROL"}},
        "action_1_due": {"action_1_due": {"type": "datepicker", "selected_date": "2026-12-01"}},
        "action_2_owner": {"action_2_owner": {"type": "users_select", "selected_user": "U0DAN"}},
    }
    form = v.parse_resolve(values)
    assert form.root_cause == "new payment client timed out" and form.lessons == ""
    assert form.action_items == (v.ActionItemForm("alert on p95", "U0CAROL", dt.date(2026, 12, 1)),)
    assert set(form.errors) == {"action_2_text"}


def test_status_update_modal_and_parse():
    modal = v.status_update_modal("INC-2026-001", status="Mitigated")
    validate_modal(modal)
    assert modal["callback_id"] == "status_update" and modal["private_metadata"] == "INC-2026-001"
    assert modal["blocks"][0]["element"]["initial_option"]["value"] == "Mitigated"
    values = {
        "status": {"status": {"type": "static_select", "selected_option": {"value": "Monitoring"}}},
        "summary": {"summary": {"type": "plain_text_input", "value": "errors back to 0.6%"}},
        "next_update_minutes": {
            "next_update_minutes": {"type": "static_select", "selected_option": {"value": "30"}}
        },
    }
    assert v.parse_status_update(values) == v.StatusUpdateForm("Monitoring", "errors back to 0.6%", "", 30)



def test_declare_modal_lets_a_person_declare_data_loss_or_a_breach():
    modal = v.declare_modal(["billing"])
    validate_modal(modal)
    [box] = [b for b in modal["blocks"] if b.get("block_id") == v.DECLARE_DECLARED]
    assert box["optional"] and box["element"]["type"] == "checkboxes"
    assert [(o["text"]["text"], o["value"]) for o in box["element"]["options"]] == [
        ("Data loss", "data-loss"),
        ("Security breach", "security-breach"),
    ]
    assert "initial_options" not in box["element"] and "Critical" in box["hint"]["text"]
    ticked = v.declare_modal(["billing"], declared=("security-breach",))  # /rollback --security-breach
    validate_modal(ticked)
    [box] = [b for b in ticked["blocks"] if b.get("block_id") == v.DECLARE_DECLARED]
    assert [o["value"] for o in box["element"]["initial_options"]] == ["security-breach"]
    values = {
        "service": {"service": {"type": "static_select", "selected_option": {"value": "billing"}}},
        "declared": {
            "declared": {
                "type": "checkboxes",
                "selected_options": [{"value": "security-breach"}, {"value": "bogus"}, {"value": "data-loss"}],
            }
        },
    }
    assert v.parse_declare(values) == v.DeclareForm("billing", "", ("data-loss", "security-breach"))
    none_ticked = {**values, "declared": {"declared": {"type": "checkboxes", "selected_options": []}}}
    assert v.parse_declare(none_ticked).declared == ()

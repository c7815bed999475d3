"""What follows ``/rollback``: the command a person meant, or a polite reason it was not understood."""

from __future__ import annotations

import pytest

from bot.incidents.parse import MAX_REASON, MAX_TEXT, Command, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("declare_modal")),
        ("help", Command("help")),
        ("--help", Command("help")),
        ("STATUS", Command("status")),
        ("update", Command("update")),
        ("history shopping-service", Command("history", service="shopping-service")),
        ("config pricing", Command("config", service="pricing")),
        ("resolve inc-2026-007", Command("resolve", incident="INC-2026-007")),
        ("resolve", Command("resolve")),
        ("shopping-service", Command("declare", service="shopping-service")),
        ("shopping-service  checkout returns 500s ", Command("declare", "shopping-service", "checkout returns 500s")),
    ],
)
def test_commands(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Shopping_Service", "`shopping_service` is not a valid service name"),
        ("history", "Which service?"),
        ("config", "`/rollback config <service>`"),
        ("config pricing';drop", "is not a valid service name"),
        ("resolve yesterday", "`yesterday` is not an incident id"),
        ("x" * (MAX_TEXT + 1), f"the most I accept is {MAX_TEXT}"),
        ("cart " + "x" * (MAX_REASON + 1), f"please keep it under {MAX_REASON}"),
    ],
)
def test_invalid_commands_say_what_was_wrong(text, says):
    command = parse(text)
    assert command.kind == "invalid" and says in command.error


# -------------------------------------------------------------- declared by a person


@pytest.mark.parametrize(
    ("text", "reason", "declared"),
    [
        ("shopping-service orders lost --data-loss", "orders lost", ("data-loss",)),
        ("shopping-service --data-loss orders lost", "orders lost", ("data-loss",)),
        ("--security-breach shopping-service", "", ("security-breach",)),
        ("shopping-service leaked --SECURITY-BREACH --data-loss", "leaked", ("data-loss", "security-breach")),
        ("shopping-service —data-loss orders gone", "orders gone", ("data-loss",)),  # a phone's em dash
        ("shopping-service –data-loss --data-loss", "", ("data-loss",)),  # en dash; each declared once
    ],
)
def test_a_person_declares_data_loss_or_a_security_breach(text, reason, declared):
    assert parse(text) == Command("declare", service="shopping-service", reason=reason, declared=declared)


def test_words_in_a_reason_are_not_declarations():
    command = parse("shopping-service no data-loss seen, security-breach unlikely")
    assert command.declared == () and command.reason == "no data-loss seen, security-breach unlikely"


def test_declaring_alone_opens_the_modal_with_it():
    assert parse("--data-loss") == Command("declare_modal", declared=("data-loss",))


@pytest.mark.parametrize("text", ["status --data-loss", "history cart --security-breach", "resolve --data-loss"])
def test_declarations_only_go_with_a_new_incident(text):
    command = parse(text)
    assert command.kind == "invalid"
    assert "can only be given when declaring an incident" in command.error and "`--data-loss`" in command.error


@pytest.mark.parametrize("typo", ["--dataloss", "--data_loss", "--security"])
def test_a_mistyped_flag_is_refused_not_taken_as_the_reason(typo):
    command = parse(f"shopping-service orders lost {typo}")
    assert command.kind == "invalid"
    assert f"I don't know `{typo}`" in command.error and "`--data-loss` or `--security-breach`" in command.error


@pytest.mark.parametrize(
    ("text", "kind", "user"),
    [
        ("lead <@U0LEAD001|carol>", "lead", "U0LEAD001"),
        ("comms <@U_VIEWER>", "comms", "U_VIEWER"),
        ("LEAD U0AB", "lead", "U0AB"),
    ],
)
def test_a_role_names_one_person(text, kind, user):
    assert parse(text) == Command(kind, user=user)


@pytest.mark.parametrize("text", ["lead", "comms nobody", "lead <@U1> <@U2>", "comms #incidents"])
def test_a_role_without_exactly_one_person_is_refused_politely(text):
    command = parse(text)
    assert command.kind == "invalid" and "@someone" in command.error


def test_a_note_keeps_its_text_and_needs_some():
    assert parse("note  customers see 502s ") == Command("note", reason="customers see 502s")
    assert parse("note").kind == "invalid" and "What should the note say?" in parse("note").error

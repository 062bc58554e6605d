"""`manage.py contact consent` and `contact consent-history --json` (CONTRACT.md, "Consent per
channel and unsubscribe")."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.consent import withdraw_by_unsubscribe_link
from crm.management.commands import contact as contact_command
from crm.models import ConsentChange, Contact
from tests.factories import make_person

pytestmark = pytest.mark.django_db


def call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("contact", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def call_failing(*args: str) -> tuple[str, str, CommandError]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("contact", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), info.value


def states(no: str) -> tuple[str, str, str]:
    return Contact.objects.filter(no=no).values_list("email_consent", "postal_consent", "phone_consent").get()


@pytest.fixture
def exit_status(monkeypatch):
    """Run the command as manage.py does and return its exit status."""
    from django.core.management import base

    monkeypatch.setattr(base.connections, "close_all", lambda: None)

    def run(*args: str) -> int:
        try:
            contact_command.Command().run_from_argv(["manage.py", "contact", *args])
        except SystemExit as exc:
            return exc.code
        return 0

    return run


def test_consent_sets_the_channels_given_prints_nothing_and_records_the_source():
    make_person(no="P1")

    out, err = call("consent", "P1", "--email", "granted", "--phone", "withdrawn", "--source", "written request")

    assert (out, err) == ("", "")
    assert states("P1") == ("granted", "unknown", "withdrawn")
    assert sorted(ConsentChange.objects.values_list("channel", "state", "source", "user")) == [
        ("email", "granted", "written request", None),
        ("phone", "withdrawn", "written request", None),
    ]


def test_setting_a_state_the_channel_has_writes_no_history():
    make_person(no="P1")
    call("consent", "P1", "--postal", "granted")

    call("consent", "P1", "--postal", "granted")

    assert ConsentChange.objects.count() == 1


def test_consent_history_json_is_oldest_first_with_offset_timestamps_and_the_logged_segment():
    person = make_person(no="P1")
    call("consent", "P1", "--email", "granted", "--source", "phone call")
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=12)
    call("consent", "P1", "--postal", "withdrawn")

    out, err = call("consent-history", "P1", "--json")

    rows = json.loads(out)
    assert err == "" and out.count("\n") == 1
    assert [list(row) for row in rows] == [["channel", "state", "at", "source", "logged_segment"]] * 3
    assert [(r["channel"], r["state"], r["source"], r["logged_segment"]) for r in rows] == [
        ("email", "granted", "phone call", None),
        ("email", "withdrawn", "unsubscribe link", 12),
        ("postal", "withdrawn", "", None),
    ]
    moments = [datetime.datetime.fromisoformat(row["at"]) for row in rows]
    assert all(moment.utcoffset() is not None for moment in moments)
    assert moments == sorted(moments)


def test_the_history_of_a_contact_without_changes_is_an_empty_array():
    make_person(no="P1")
    assert json.loads(call("consent-history", "P1", "--json")[0]) == []


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        (["NOSUCH", "--email", "granted"], ['contact_no: unknown contact "NOSUCH"']),
        (["P1", "--email", "maybe"], ["email: maybe is not a consent state (use granted, withdrawn, unknown)"]),
        (
            ["P1", "--email", "granted", "--postal", "yes", "--phone", "no"],
            [
                "postal: yes is not a consent state (use granted, withdrawn, unknown)",
                "phone: no is not a consent state (use granted, withdrawn, unknown)",
            ],
        ),
        (["P1"], ["give at least one of --email, --postal, --phone"]),
        (["P1", "--email", "granted", "--source", "x" * 101], ["source: at most 100 characters"]),
    ],
)
def test_bad_input_is_one_line_per_problem_and_nothing_is_written(args, problems):
    make_person(no="P1")

    out, err, error = call_failing("consent", *args)

    assert out == ""
    assert err.splitlines() == problems
    assert error.returncode == 1
    assert states("P1") == ("unknown",) * 3
    assert not ConsentChange.objects.exists()


def test_an_unknown_contact_and_a_bad_state_are_both_reported():
    _out, err, _error = call_failing("consent", "NOSUCH", "--phone", "maybe")
    assert err.splitlines() == [
        'contact_no: unknown contact "NOSUCH"',
        "phone: maybe is not a consent state (use granted, withdrawn, unknown)",
    ]


def test_consent_history_of_an_unknown_contact_is_an_error():
    out, err, error = call_failing("consent-history", "NOSUCH", "--json")
    assert (out, err.splitlines(), error.returncode) == ("", ['contact_no: unknown contact "NOSUCH"'], 1)


def test_exit_status_is_1_for_a_bad_state_and_0_on_success(exit_status, capsys):
    make_person(no="P1")

    assert exit_status("consent", "P1", "--email", "maybe") == 1
    assert "email: maybe is not a consent state" in capsys.readouterr().err
    assert exit_status("consent", "P1", "--email", "withdrawn", "--source", "letter") == 0
    assert states("P1")[0] == "withdrawn"

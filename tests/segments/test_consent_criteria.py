"""The consent criteria (`email_consent`, `postal_consent`, `phone_consent`) in segment steps:
the QUERY language of `segment add/reduce/refine --filter` and saved criteria."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from crm.consent import contact_set_consent
from crm.permissions import COMMAND_LINE
from segments.models import CriteriaStep, SegmentLine
from tests.factories import make_person

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("segment", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def lines(seg: str) -> list[str]:
    return [line["contact_no"] for line in json.loads(run("show", seg, "--json"))["lines"]]


@pytest.fixture
def seg(db) -> str:
    for no, states in (
        ("P1", {"email": "granted"}),
        ("P2", {"phone": "withdrawn"}),
        ("P3", {"postal": "granted", "email": "granted"}),
        ("P4", {}),
    ):
        contact = make_person(no=no)
        if states:
            contact_set_consent(actor=COMMAND_LINE, contact=contact, states=states, source="test")
    return run("create", "--description", "Consent")


def test_add_reduce_and_refine_select_by_consent(seg):
    assert run("add", seg, "--filter", "postal_consent=granted") == "1"
    assert run("add", seg, "--filter", "email_consent=granted") == "2"
    assert lines(seg) == ["P3", "P1"]
    assert run("add", seg, "--filter", "phone_consent=withdrawn&email_consent=unknown") == "3"
    assert run("reduce", seg, "--filter", "postal_consent=granted") == "2"
    assert run("refine", seg, "--filter", "email_consent=unknown&email_consent=withdrawn") == "1"
    assert lines(seg) == ["P2"]
    filters = list(CriteriaStep.objects.filter(segment__no=seg).order_by("position").values_list("filter", flat=True))
    assert filters[-1] == "email_consent=unknown&email_consent=withdrawn"


def test_count_is_a_dry_run_of_the_consent_criteria(seg):
    assert run("count", seg, "--filter", "email_consent=granted") == "2"
    assert not SegmentLine.objects.exists()


@pytest.mark.parametrize("command", ["add", "reduce", "refine", "count"])
def test_a_bad_state_is_an_error_naming_it_and_nothing_is_written(seg, command):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as info:
        call_command("segment", command, seg, "--filter", "email_consent=maybe", stdout=out, stderr=err)

    assert info.value.returncode == 1 and out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        'email_consent: unknown consent state "maybe" (use granted, withdrawn, unknown)'
    ]
    assert not SegmentLine.objects.exists() and not CriteriaStep.objects.exists()


def test_saved_criteria_with_consent_replay_onto_another_segment(seg):
    run("add", seg, "--filter", "email_consent=granted")
    run("save-criteria", seg, "GRANTED")
    other = run("create", "--description", "Again")

    assert run("reuse-criteria", other, "GRANTED") == "2"
    assert lines(other) == ["P1", "P3"]


def test_the_segment_page_adds_by_consent_and_offers_the_consent_criteria(marketing_client, seg):
    step = reverse("segments:segment_step", args=[seg])

    response = marketing_client.post(step, {"action": "add", "email_consent": ["granted"], "postal_consent": "unknown"})

    assert response.status_code == 302
    assert lines(seg) == ["P1"]
    assert CriteriaStep.objects.get(segment__no=seg).filter == "email_consent=granted&postal_consent=unknown"
    page = marketing_client.get(reverse("segments:segment_detail", args=[seg])).content.decode()
    assert "<summary>Consent</summary>" in page and 'name="phone_consent" value="withdrawn"' in page
    bad = marketing_client.post(step, {"action": "add", "phone_consent": "maybe"})
    assert bad.status_code == 400
    assert "phone_consent: unknown consent state &quot;maybe&quot;" in bad.content.decode()

"""The contact list's bulk action "Add to segment…" (issue 16): ticked rows or every contact
matching the filter become an ordinary Add Contacts step, with the numbers or the filter as its
criteria, confirmed with the count first and undone like any other step."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from segments import services
from segments.models import CriteriaStep, Segment, SegmentLine
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db

ADD = reverse("segments:contacts_add_to_segment")


def shown(response) -> str:
    return html.unescape(response.content.decode())


def response_text(response) -> str:
    return response.content.decode()


@pytest.fixture
def world(db):
    acme = make_company(no="C100", name="Acme Delft", city="Delft")
    make_person(acme, no="P100", name="Dora Delft", city="Delft")
    make_company(no="C200", name="Bolt Berlin", city="Berlin")
    make_company(no="C300", name="Cork Delft", city="Delft")


@pytest.fixture
def segment(world, marketing) -> Segment:
    segment = services.segment_create(user=marketing, values={"description": "Spring mailing"})
    services.segment_add_contacts(user=marketing, segment=segment, query="no=C200")  # step 1
    return segment


def line_nos(segment: Segment) -> list[str]:
    return sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True))


def test_the_page_asks_for_a_segment_then_confirms_with_the_count(marketing_client, segment):
    page = shown(marketing_client.get(ADD, {"selection": "picked", "no": ["C100", "C200"]}))
    assert "2 contacts ticked." in page
    assert f'<option value="{segment.no}">{segment.no} – Spring mailing</option>' in page
    assert '<option value="new">A new segment</option>' in page

    response = marketing_client.get(ADD, {"selection": "picked", "no": ["C100", "C200"], "segment": segment.no})
    # C200 is on the segment already: one to add.
    assert f">Add 1 contact to segment {segment.no}</button>" in shown(response)
    assert "1 of those selected is left out" in shown(response)
    assert '<input type="hidden" name="criteria" value="no=C100&amp;no=C200">' in response_text(response)


def test_ticked_rows_become_an_add_step_naming_them_and_undo_removes_exactly_those(marketing_client, segment):
    response = marketing_client.post(ADD, {"criteria": "no=C100&no=P100", "segment": segment.no}, follow=True)

    assert f"Added 2 contacts to {segment.no}; the segment has 3 lines (step 2)." in shown(response)
    step = CriteriaStep.objects.get(segment=segment, position=2)
    assert (step.action, step.filter, step.lines_added) == ("add", "no=C100&no=P100", 2)
    assert line_nos(segment) == ["C100", "C200", "P100"]

    services.segment_undo(user=COMMAND_LINE, segment=segment)
    assert line_nos(segment) == ["C200"]


def test_all_matching_acts_on_the_filter_not_on_a_list_of_numbers(marketing_client, segment):
    page = response_text(marketing_client.get(ADD, {"selection": "all", "city": "Delft", "segment": segment.no}))
    assert '<input type="hidden" name="criteria" value="city=Delft">' in page
    assert f">Add 3 contacts to segment {segment.no}</button>" in page

    marketing_client.post(ADD, {"criteria": "city=Delft", "segment": segment.no})

    step = CriteriaStep.objects.get(segment=segment, position=2)
    assert (step.filter, step.lines_added) == ("city=Delft", 3)
    assert line_nos(segment) == ["C100", "C200", "C300", "P100"]


def test_a_new_segment_is_made_with_the_description_and_gets_the_step(marketing_client, world):
    page = shown(marketing_client.get(ADD, {"selection": "all", "city": "Delft", "segment": "new"}))
    assert ">Create a segment and add 3 contacts</button>" in page

    response = marketing_client.post(ADD, {"criteria": "city=Delft", "segment": "new", "description": "Delft"})

    segment = Segment.objects.get(description="Delft")
    assert response.status_code == 302 and response.url == segment.get_absolute_url()
    assert line_nos(segment) == ["C100", "C300", "P100"]
    assert CriteriaStep.objects.get(segment=segment).filter == "city=Delft"


def test_bad_criteria_or_an_empty_pick_add_nothing_and_make_no_segment(marketing_client, segment):
    before = Segment.objects.count()

    response = marketing_client.get(ADD, {"selection": "picked"})
    assert response.status_code == 400
    assert "No contact is ticked" in shown(response)
    response = marketing_client.post(ADD, {"criteria": "city=Delft&bogus=1", "segment": "new"}, follow=True)
    assert 'Nothing was added: unknown filter name "bogus"' in shown(response)
    response = marketing_client.get(ADD, {"selection": "all", "segment": "SEG99999"})
    assert response.status_code == 400
    assert "There is no open segment SEG99999." in shown(response)

    assert Segment.objects.count() == before
    assert line_nos(segment) == ["C200"]
    assert CriteriaStep.objects.filter(segment=segment).count() == 1


def test_adding_needs_the_segments_change_permission(viewer_client, segment):
    assert viewer_client.get(ADD, {"selection": "picked", "no": "C100"}).status_code == 403
    assert viewer_client.post(ADD, {"criteria": "no=C100", "segment": segment.no}).status_code == 403
    assert line_nos(segment) == ["C200"]


def test_the_contact_list_offers_the_action_to_those_who_may_change_segments(marketing_client, viewer_client, world):
    list_url = reverse("crm:contact_list")
    assert f'formaction="{ADD}"' in response_text(marketing_client.get(list_url))
    assert f'formaction="{ADD}"' not in response_text(viewer_client.get(list_url))

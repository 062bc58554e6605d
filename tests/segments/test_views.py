"""Segment pages: list, new segment, the worksheet and every action on it.

Each action: the happy path (what it writes, the message with numbers), its error path (the
error shown on the page, status 400, nothing written), and its refusal to a viewer (403).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from crm.filters import ContactFilterSet
from crm.models import Contact, Country, NumberSeries
from segments import services
from segments.models import CriteriaStep, RemovedSegmentLine, SavedCriteria, Segment, SegmentLine
from tests.conftest import make_user
from tests.factories import (
    bulk_contacts,
    make_campaign,
    make_company,
    make_country,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    ann = make_salesperson("ANN", name="Ann Seller")
    bob = make_salesperson("BOB", name="Bob Seller")
    acme = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=ann)
    dora = make_person(acme, no="P100", name="Dora Delft", city="Delft")
    bolt = make_company(no="C200", name="Bolt Berlin", city="Berlin", salesperson=bob)
    hidden = make_company(no="C300", name="Hidden Delft", city="Delft", exclude_from_segment=True)
    template = make_template("LETTER", description="Spring letter", unit_cost=Decimal("2.50"))
    return SimpleNamespace(ann=ann, bob=bob, acme=acme, dora=dora, bolt=bolt, hidden=hidden, template=template)


@pytest.fixture
def segment(world, marketing) -> Segment:
    return services.segment_create(user=marketing, values={"description": "Spring mailing"})


@pytest.fixture
def filled(segment, marketing) -> Segment:
    """The segment with the Delft contacts added in step 1 (Acme Delft, Dora Delft)."""
    services.segment_add_contacts(user=marketing, segment=segment, query="city=Delft")
    return segment


def url(name: str, *args) -> str:
    return reverse(f"segments:{name}", args=args)


def messages_of(response) -> list[str]:
    """The message this request added: the last one queued (earlier requests' were never shown)."""
    return [str(message) for message in get_messages(response.wsgi_request)][-1:]


def state() -> dict:
    """Every row of the segments app (compares content, not counts)."""
    return {
        "segments": sorted(map(repr, Segment.objects.values_list())),
        "lines": sorted(map(repr, SegmentLine.objects.values_list())),
        "steps": sorted(map(repr, CriteriaStep.objects.values_list())),
        "removed": sorted(map(repr, RemovedSegmentLine.objects.values_list())),
        "saved": sorted(map(repr, SavedCriteria.objects.values_list())),
        "series": NumberSeries.objects.get(code="SEGMENT").last_no,
    }


def line_nos(segment: Segment) -> list[int]:
    return list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", flat=True))


def contacts_of(segment: Segment) -> list[str]:
    return sorted(SegmentLine.objects.filter(segment=segment).values_list("contact__no", flat=True))


# --- List ---------------------------------------------------------------------------------------


def test_list_shows_number_description_template_counts_and_owner(marketing_client, filled, world, marketing):
    other = services.segment_create(
        user=marketing, values={"description": "Autumn", "interaction_template": world.template}
    )

    response = marketing_client.get(url("segment_list"))

    assert response.status_code == 200
    rows = response.context["page_obj"].object_list
    by_no = {row.no: row for row in rows}
    assert by_no[filled.no].no_of_lines == 2
    assert by_no[filled.no].no_of_steps == 1
    assert by_no[other.no].no_of_lines == 0
    html = response.content.decode()
    assert "Spring mailing" in html and "LETTER" in html and marketing.username in html
    assert url("segment_create") in html


def test_list_costs_the_same_number_of_queries_for_many_segments(
    marketing_client, world, marketing, django_assert_max_num_queries
):
    for index in range(3):
        seg = services.segment_create(user=marketing, values={"description": f"S{index}"})
        services.segment_add_contacts(user=marketing, segment=seg, query="city=Delft")
    with django_assert_max_num_queries(8) as few:
        marketing_client.get(url("segment_list"))
    for index in range(12):
        seg = services.segment_create(user=marketing, values={"description": f"T{index}"})
        services.segment_add_contacts(user=marketing, segment=seg, query="")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = marketing_client.get(url("segment_list"))
    assert len(response.context["page_obj"].object_list) == 15


def test_viewer_sees_the_list_without_a_new_segment_button(viewer_client, filled):
    response = viewer_client.get(url("segment_list"))
    assert response.status_code == 200
    assert filled.no in response.content.decode()
    assert url("segment_create") not in response.content.decode()


# --- Create -------------------------------------------------------------------------------------


def test_create_numbers_the_segment_and_reports_it(marketing_client, world, marketing):
    response = marketing_client.post(
        url("segment_create"),
        {"description": "Winter mailing", "salesperson": "ANN", "date": "2026-03-01", "correspondence_type": "email"},
    )

    segment = Segment.objects.get(description="Winter mailing")
    assert response.status_code == 302
    assert response["Location"] == segment.get_absolute_url()
    assert re.fullmatch(r"SEG\d{5}", segment.no)
    assert segment.salesperson_id == "ANN"
    assert segment.date == datetime.date(2026, 3, 1)
    assert segment.owner == marketing
    assert messages_of(response) == [f"Created segment {segment.no}. Add contacts with the criteria on the left."]


def test_create_with_a_template_takes_its_defaults_for_fields_left_unchanged(marketing_client, world):
    today = datetime.date.today().isoformat()
    marketing_client.post(
        url("segment_create"),
        {"description": "With template", "interaction_template": "LETTER", "date": today, "unit_cost": "0"},
    )

    segment = Segment.objects.get(description="With template")
    assert segment.interaction_template_id == "LETTER"
    assert segment.unit_cost == Decimal("2.50")
    assert segment.interaction_group_id == world.template.group_id


def test_create_without_description_shows_the_error_and_writes_nothing(marketing_client, world):
    before = state()

    response = marketing_client.post(url("segment_create"), {"description": "", "salesperson": "NOSUCH"})

    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"description", "salesperson", "date"}
    assert "No segment was created" in response.content.decode()
    assert state() == before


def test_viewer_cannot_create_a_segment(viewer_client, world):
    before = state()
    assert viewer_client.get(url("segment_create")).status_code == 403
    assert viewer_client.post(url("segment_create"), {"description": "Nope"}).status_code == 403
    assert state() == before


# --- Worksheet ----------------------------------------------------------------------------------


def test_worksheet_shows_header_count_lines_and_provenance(marketing_client, filled, world, marketing):
    services.segment_add_contact(user=marketing, segment=filled, contact=world.bolt)

    response = marketing_client.get(url("segment_detail", filled.no))

    assert response.status_code == 200
    assert response.context["totals"].lines == 3
    html = response.content.decode()
    assert "Spring mailing" in html
    assert "Acme Delft" in html and "Dora Delft" in html and "Bolt Berlin" in html
    assert "step 1: add" in html
    assert ">manual<" in html
    assert url("segment_step", filled.no) in html  # the criteria panel
    assert url("segment_undo", filled.no) in html
    assert 'name="header-description"' in html


def test_worksheet_first_screen_is_a_constant_number_of_queries(
    marketing_client, segment, marketing, django_assert_max_num_queries
):
    bulk_contacts(60)
    services.segment_add_contacts(user=marketing, segment=segment, query="")
    with django_assert_max_num_queries(16) as first:
        response = marketing_client.get(url("segment_detail", segment.no))
    assert len(response.context["page_obj"].object_list) == 50

    bulk_contacts(240)
    services.segment_add_contacts(user=marketing, segment=segment, query="")
    services.segment_remove_contacts(user=marketing, segment=segment, action="reduce", query="city=Delft")
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = marketing_client.get(url("segment_detail", segment.no), {"page": 3})
    assert response.context["page_obj"].number == 3
    assert response.context["totals"].lines > 250


def test_worksheet_pages_are_50_lines_and_a_bad_page_number_shows_the_first(marketing_client, segment, marketing):
    bulk_contacts(55)
    services.segment_add_contacts(user=marketing, segment=segment, query="")

    page2 = marketing_client.get(url("segment_detail", segment.no), {"page": 2})
    bad = marketing_client.get(url("segment_detail", segment.no), {"page": "x"})

    lines = SegmentLine.objects.filter(segment=segment).count()
    assert len(page2.context["page_obj"].object_list) == lines - 50
    assert bad.context["page_obj"].number == 1


def test_pages_shown_after_a_failed_action_link_to_the_worksheet(marketing_client, segment, marketing):
    bulk_contacts(55)
    services.segment_add_contacts(user=marketing, segment=segment, query="")

    response = marketing_client.post(url("segment_step", segment.no), {"action": "add", "country": "XX"})

    assert response.status_code == 400
    # Next carries the line no. the next page starts after (segments.selectors.lines_page).
    assert re.search(
        rf'href="{url("segment_detail", segment.no)}\?page=2&amp;after=\d+#segment-lines"', response.content.decode()
    )


def test_htmx_pagination_gets_only_the_lines_block(marketing_client, segment, marketing):
    bulk_contacts(55)
    services.segment_add_contacts(user=marketing, segment=segment, query="")

    response = marketing_client.get(
        url("segment_detail", segment.no), {"page": 2}, headers={"HX-Request": "true", "HX-Target": "segment-lines"}
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card lines-card results" id="segment-lines"')
    assert "<html" not in html


def test_the_criteria_panel_groups_its_filters_as_the_contact_page_does(marketing_client, segment, monkeypatch):
    monkeypatch.setattr(ContactFilterSet, "GROUPS", (("Who", ("no", "name")),))

    page = marketing_client.get(url("segment_detail", segment.no)).content.decode()

    panel = page[page.index('id="criteria-panel"') :]
    assert re.findall(r"<summary>([^<]*)</summary>", panel) == ["Who", "Interaction history", "More"]


def test_htmx_tab_gets_only_the_criteria_panel_for_that_action(marketing_client, segment):
    response = marketing_client.get(
        url("segment_detail", segment.no),
        {"panel": "refine"},
        headers={"HX-Request": "true", "HX-Target": "criteria-panel"},
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card criteria" id="criteria-panel"')
    assert 'name="action" value="refine"' in html
    assert 'name="entire_companies"' in html
    assert 'name="allow_existing"' not in html


def test_viewer_sees_the_worksheet_read_only(viewer_client, filled):
    response = viewer_client.get(url("segment_detail", filled.no))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Delft" in html
    for name in ("segment_step", "segment_undo", "segment_header", "segment_add_contact", "criteria_save"):
        assert url(name, filled.no) not in html
    assert '<form method="post" action="/segments/' not in html


def test_unknown_segment_is_404(marketing_client, world):
    assert marketing_client.get(url("segment_detail", "SEG99999")).status_code == 404
    assert marketing_client.post(url("segment_step", "SEG99999"), {"action": "add"}).status_code == 404


# --- Header -------------------------------------------------------------------------------------


def header_post(segment: Segment, **changes) -> dict:
    """The header form as the page posts it, with `changes`."""
    values = {
        "description": segment.description,
        "interaction_template": segment.interaction_template_id or "",
        "campaign": segment.campaign_id or "",
        "salesperson": segment.salesperson_id or "",
        "date": segment.date.isoformat(),
        "language": segment.language_id or "",
        "subject": segment.subject,
        "correspondence_type": segment.correspondence_type,
        "information_flow": segment.information_flow,
        "initiated_by": segment.initiated_by,
        "unit_cost": str(segment.unit_cost),
        "unit_duration": str(segment.unit_duration),
    }
    for flag in (
        "ignore_contact_correspondence_type",
        "campaign_target",
        "campaign_response",
        "send_as_attachment",
    ):
        if getattr(segment, flag):
            values[flag] = "on"
    values.update(changes)
    return {f"header-{name}": value for name, value in values.items() if value is not None}


def test_header_save_updates_the_lines_that_follow_and_says_how_many(marketing_client, filled, marketing):
    line = SegmentLine.objects.filter(segment=filled).first()
    services.segment_set_line(user=marketing, segment=filled, line_no=line.line_no, values={"description": "Mine"})

    response = marketing_client.post(url("segment_header", filled.no), header_post(filled, description="Autumn"))

    assert response.status_code == 302
    filled.refresh_from_db()
    assert filled.description == "Autumn"
    descriptions = sorted(SegmentLine.objects.filter(segment=filled).values_list("description", flat=True))
    assert descriptions == ["Autumn", "Mine"]  # the override is kept (D1)
    assert messages_of(response) == [
        f"Saved the header of {filled.no} (description); 2 lines follow the header and were updated, "
        "except fields set by hand on a line."
    ]


def test_header_page_says_how_many_lines_follow_the_header(marketing_client, filled):
    html = marketing_client.get(url("segment_detail", filled.no)).content.decode()
    assert re.search(r"Saving updates the <strong>2</strong> lines that follow\s+the header", html)


def test_header_template_change_applies_the_template_defaults(marketing_client, filled, world):
    response = marketing_client.post(
        url("segment_header", filled.no), header_post(filled, interaction_template="LETTER")
    )

    assert response.status_code == 302
    filled.refresh_from_db()
    assert filled.unit_cost == Decimal("2.50")  # the template's, not the 0 the form still held
    assert set(SegmentLine.objects.filter(segment=filled).values_list("interaction_template_id", flat=True)) == {
        "LETTER"
    }


def test_header_with_bad_values_shows_errors_and_writes_nothing(marketing_client, filled):
    before = state()

    response = marketing_client.post(
        url("segment_header", filled.no), header_post(filled, unit_cost="-1", salesperson="NOSUCH", date="31-31-2026")
    )

    assert response.status_code == 400
    assert set(response.context["header_form"].errors) == {"unit_cost", "salesperson", "date"}
    assert "The header was not saved" in response.content.decode()
    assert state() == before


def test_header_without_change_says_so(marketing_client, filled):
    before = state()
    response = marketing_client.post(url("segment_header", filled.no), header_post(filled))
    assert messages_of(response) == [f"Nothing changed in the header of {filled.no}."]
    assert state() == before


# --- Preview ------------------------------------------------------------------------------------

HTMX = {"HX-Request": "true", "HX-Target": "step-preview"}


def test_preview_counts_the_contacts_an_add_would_add(marketing_client, segment):
    before = state()

    response = marketing_client.get(
        url("segment_preview", segment.no), {"action": "add", "city": "Delft"}, headers=HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "This will add 2 contacts (the segment then has 2 lines)." in html  # the excluded one is not counted
    assert "<html" not in html
    assert state() == before


def test_preview_follows_the_add_options(marketing_client, filled):
    def count(**params) -> str:
        response = marketing_client.get(url("segment_preview", filled.no), {"action": "add", **params}, headers=HTMX)
        return re.search(r"This will add ([\d,]+) contact", response.content.decode()).group(1)

    assert count(city="Delft") == "0"  # both are on the segment already
    assert count(city="Delft", allow_existing="on") == "2"
    assert count(city="Delft", allow_existing="on", ignore_exclusion="on") == "3"


def test_preview_counts_the_lines_a_reduce_or_refine_would_remove(marketing_client, filled):
    reduce = marketing_client.get(
        url("segment_preview", filled.no), {"action": "reduce", "type": "person"}, headers=HTMX
    )
    refine = marketing_client.get(url("segment_preview", filled.no), {"action": "refine", "name": "Dora"}, headers=HTMX)
    entire = marketing_client.get(
        url("segment_preview", filled.no),
        {"action": "reduce", "type": "person", "entire_companies": "on"},
        headers=HTMX,
    )

    assert "This will remove 1 line (the segment then has 1 line)." in reduce.content.decode()
    assert "This will remove 1 line (the segment then has 1 line)." in refine.content.decode()
    assert "This will remove 2 lines (the segment then has 0 lines)." in entire.content.decode()


def test_preview_of_a_bad_filter_shows_the_error_lines(marketing_client, filled):
    before = state()

    response = marketing_client.get(
        url("segment_preview", filled.no), {"action": "add", "salesperson": "NOSUCH", "fax": "1"}, headers=HTMX
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "The criteria are not valid" in html
    assert "unknown filter name &quot;fax&quot;" in html
    assert "salesperson: unknown code &quot;NOSUCH&quot;" in html
    assert "This will" not in html
    assert state() == before


def test_preview_without_javascript_shows_the_worksheet_with_the_count(marketing_client, segment):
    response = marketing_client.get(url("segment_preview", segment.no), {"action": "add", "city": "Berlin"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This will add 1 contact (the segment then has 1 line)." in html
    assert 'value="Berlin"' in html  # the criteria stay in the form


def test_preview_never_sends_or_needs_the_csrf_token(marketing_client, segment):
    html = marketing_client.get(url("segment_detail", segment.no)).content.decode()
    assert 'hx-params="not csrfmiddlewaretoken"' in html


# --- Steps: add, reduce, refine -----------------------------------------------------------------


def test_add_step_adds_the_contacts_and_reports_the_numbers(marketing_client, segment):
    response = marketing_client.post(url("segment_step", segment.no), {"action": "add", "city": "Delft"})

    assert response.status_code == 302
    assert contacts_of(segment) == ["C100", "P100"]
    step = CriteriaStep.objects.get(segment=segment)
    assert (step.action, step.filter, step.lines_added) == ("add", "city=Delft", 2)
    assert messages_of(response) == ["Added 2 contacts; the segment has 2 lines (step 1)."]


def test_add_step_passes_the_options(marketing_client, segment):
    marketing_client.post(url("segment_step", segment.no), {"action": "add", "city": "Delft", "ignore_exclusion": "on"})
    marketing_client.post(
        url("segment_step", segment.no),
        {"action": "add", "no": "P100", "allow_existing": "on", "expand_contact": "on"},
    )

    assert contacts_of(segment) == ["C100", "C100", "C300", "P100", "P100"]
    step = CriteriaStep.objects.get(segment=segment, position=2)
    assert step.allow_existing and step.expand_contact and not step.ignore_exclusion


def test_reduce_and_refine_steps_remove_lines_and_report_the_numbers(marketing_client, filled, world, marketing):
    services.segment_add_contact(user=marketing, segment=filled, contact=world.bolt)

    reduce = marketing_client.post(url("segment_step", filled.no), {"action": "reduce", "type": "person"})
    refine = marketing_client.post(url("segment_step", filled.no), {"action": "refine", "city": "Berlin"})

    assert messages_of(reduce) == ["Removed 1 line whose contact matches (reduce); the segment has 2 lines (step 3)."]
    assert messages_of(refine) == [
        "Removed 1 line whose contact does not match (refine); the segment has 1 line (step 4)."
    ]
    assert contacts_of(filled) == ["C200"]


def test_refine_with_entire_companies_keeps_the_whole_company(marketing_client, filled):
    marketing_client.post(
        url("segment_step", filled.no), {"action": "refine", "type": "person", "entire_companies": "on"}
    )
    assert contacts_of(filled) == ["C100", "P100"]
    assert CriteriaStep.objects.get(segment=filled, position=2).entire_companies is True


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"action": "add", "salesperson": "NOSUCH"}, "salesperson: unknown code &quot;NOSUCH&quot;"),
        ({"action": "add", "no": "NOPE"}, "no: unknown contact &quot;NOPE&quot;"),
        ({"action": "add", "type": "robot"}, "type: unknown type &quot;robot&quot;"),
        ({"action": "reduce", "fax": "123"}, "unknown filter name &quot;fax&quot;"),
        ({"action": "refine", "country": "XX"}, "country: unknown code &quot;XX&quot;"),
        ({"action": "delete", "city": "Delft"}, "action: Select a valid choice."),
    ],
)
def test_a_step_with_a_bad_filter_shows_the_error_and_writes_nothing(marketing_client, filled, data, error):
    before = state()

    response = marketing_client.post(url("segment_step", filled.no), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert "The criteria are not valid" in html
    assert error in html
    assert state() == before


@pytest.mark.parametrize("action", ["reduce", "refine"])
def test_a_reduce_or_refine_without_any_criterion_is_refused_and_writes_nothing(marketing_client, filled, action):
    before = state()

    response = marketing_client.post(url("segment_step", filled.no), {"action": action, "city": ""})
    preview = marketing_client.get(
        url("segment_preview", filled.no), {"action": action}, headers={"HX-Request": "true"}
    )

    assert response.status_code == preview.status_code == 400
    for html in (response.content.decode(), preview.content.decode()):
        assert f"choose at least one criterion: a {action} without criteria would" in html
    assert state() == before


def test_the_count_button_counts_without_writing(marketing_client, segment):
    before = state()

    response = marketing_client.post(
        url("segment_step", segment.no), {"action": "add", "city": "Delft", "dry_run": "1"}
    )

    assert response.status_code == 200
    assert "This will add 2 contacts" in response.content.decode()
    assert state() == before


# --- Manual lines -------------------------------------------------------------------------------


def test_add_one_contact_by_its_number(marketing_client, filled):
    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "C200"})

    assert contacts_of(filled) == ["C100", "C200", "P100"]
    line = SegmentLine.objects.get(segment=filled, contact__no="C200")
    assert line.step.manual
    assert response["Location"].endswith(f"#line-{line.line_no}")
    assert messages_of(response) == [f"Added C200 Bolt Berlin as line {line.line_no}; the segment has 3 lines."]


def test_add_one_contact_already_on_the_worksheet_asks_first_and_the_confirmation_adds_it(marketing_client, filled):
    line_no = SegmentLine.objects.get(segment=filled, contact__no="P100").line_no
    before = state()

    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "P100"})

    assert response.status_code == 400
    html = response.content.decode()
    assert f"P100 is already on line {line_no} — add it again?" in html
    confirm = html.split('id="add-contact-confirm"')[1].split("</form>")[0]
    assert 'name="contact_no" value="P100"' in confirm and 'name="allow_existing" value="on"' in confirm
    assert state() == before

    response = marketing_client.post(
        url("segment_add_contact", filled.no), {"contact_no": "P100", "allow_existing": "on"}
    )

    assert response.status_code == 302
    assert contacts_of(filled) == ["C100", "P100", "P100"]
    step = CriteriaStep.objects.get(segment=filled, position=2)
    assert (step.manual, step.allow_existing) == (True, True)


def test_add_one_contact_with_an_unknown_number_shows_the_error(marketing_client, filled):
    before = state()

    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "NOPE"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "No contact has the number or name &quot;NOPE&quot;." in html
    # The error is next to the field, which says so and takes the focus.
    field = html.split('id="id_contact_no"')[1].split(">")[0]
    assert 'aria-describedby="add-contact-error add-contact-hint"' in field and "autofocus" in field
    assert 'id="add-contact-error"' in html
    assert state() == before


def test_add_one_contact_by_its_whole_name(marketing_client, filled):
    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "  bolt berlin "})

    assert response.status_code == 302
    assert contacts_of(filled) == ["C100", "C200", "P100"]
    assert messages_of(response)[0].startswith("Added C200 Bolt Berlin as line")


def test_add_one_contact_by_a_name_several_have_offers_them(marketing_client, filled, world):
    twin = make_company(no="C400", name="Bolt Berlin", city="Potsdam")
    before = state()

    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "Bolt Berlin"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "2 contacts are named &quot;Bolt Berlin&quot;: choose one below." in html
    candidates = html.split('class="add-contact-candidates"')[1].split("</ul>")[0]
    assert 'name="contact_no" value="C200"' in candidates and 'name="contact_no" value="C400"' in candidates
    assert "Add C400 Bolt Berlin, Potsdam" in candidates
    assert state() == before

    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": twin.no})
    assert response.status_code == 302 and contacts_of(filled) == ["C100", "C400", "P100"]


def test_add_one_contact_by_name_already_on_the_worksheet_asks_first(marketing_client, filled):
    line_no = SegmentLine.objects.get(segment=filled, contact__no="P100").line_no
    before = state()

    response = marketing_client.post(url("segment_add_contact", filled.no), {"contact_no": "dora delft"})

    assert response.status_code == 400
    html = response.content.decode()
    assert f"P100 is already on line {line_no} — add it again?" in html
    confirm = html.split('id="add-contact-confirm"')[1].split("</form>")[0]
    assert 'name="contact_no" value="P100"' in confirm and '<button type="submit" autofocus>Add it again' in confirm
    assert state() == before


def test_line_edit_page_and_htmx_row(marketing_client, filled):
    line_no = line_nos(filled)[0]

    page = marketing_client.get(url("line_edit", filled.no, line_no))
    row = marketing_client.get(url("line_edit", filled.no, line_no), headers={"HX-Request": "true"})

    assert page.status_code == 200
    assert "<html" in page.content.decode()
    html = row.content.decode()
    assert html.lstrip().startswith(f'<tr id="line-{line_no}" class="edit-row">')
    assert 'name="line-description"' in html
    assert "step 1: add" in html


def test_line_edit_overrides_the_changed_fields_and_marks_them(marketing_client, filled):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()
    data = line_post(line, description="Personal note", cost="9.99")

    response = marketing_client.post(url("line_edit", filled.no, line.line_no), data)

    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.description, line.cost) == ("Personal note", Decimal("9.99"))
    assert set(line.overridden_fields) == {"description", "cost"}
    assert messages_of(response) == [f"Saved line {line.line_no} ({line.contact.no}); set by hand: description, cost."]
    html = marketing_client.get(url("segment_detail", filled.no)).content.decode()
    assert '<td class="text ovr" title="Set by hand on this line">Personal note</td>' in html


def test_line_edit_with_another_template_re_derives_the_line_from_it(marketing_client, filled, world):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()

    response = marketing_client.post(
        url("line_edit", filled.no, line.line_no), line_post(line, interaction_template="LETTER", duration="4")
    )

    assert response.status_code == 302
    line.refresh_from_db()
    # R15: the template's group and cost; the description given without a template stays
    assert (line.interaction_template_id, line.interaction_group_id, line.cost, line.duration, line.description) == (
        "LETTER",
        world.template.group_id,
        Decimal("2.50"),
        Decimal("4"),
        "Spring mailing",
    )
    assert set(line.overridden_fields) == {"interaction_template", "duration"}
    assert messages_of(response) == [
        f"Saved line {line.line_no} ({line.contact.no}); set by hand: duration (min.), interaction template; "
        "the fields not set by hand re-derived from template LETTER."
    ]


def test_line_edit_reset_checkbox_makes_a_field_follow_the_header(marketing_client, filled, marketing):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()
    services.segment_set_line(
        user=marketing, segment=filled, line_no=line.line_no, values={"description": "Mine", "cost": Decimal("3")}
    )
    line.refresh_from_db()

    response = marketing_client.post(
        url("line_edit", filled.no, line.line_no), {**line_post(line), "line-reset": ["description"]}
    )

    line.refresh_from_db()
    assert line.description == "Spring mailing"
    assert line.overridden_fields == ["cost"]
    assert messages_of(response) == [
        f"Saved line {line.line_no} ({line.contact.no}); following the header again: description."
    ]


def test_line_edit_with_bad_values_shows_errors_and_writes_nothing(marketing_client, filled):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()
    before = state()

    response = marketing_client.post(
        url("line_edit", filled.no, line.line_no),
        line_post(line, cost="abc", language="NOSUCH", correspondence_type="fax"),
    )

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"cost", "language", "correspondence_type"}
    assert f"Line {line.line_no} was not saved" in response.content.decode()
    assert state() == before


def test_line_reset_button_resets_every_overridden_field(marketing_client, filled, marketing):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()
    services.segment_set_line(
        user=marketing, segment=filled, line_no=line.line_no, values={"description": "Mine", "cost": Decimal("3")}
    )

    response = marketing_client.post(url("line_reset", filled.no, line.line_no))

    line.refresh_from_db()
    assert (line.description, line.cost, line.overrides) == ("Spring mailing", Decimal("0"), 0)
    assert messages_of(response) == [f"Line {line.line_no} follows the header again (reset: description, cost)."]


def test_unknown_line_is_404(marketing_client, filled):
    assert marketing_client.get(url("line_edit", filled.no, 1)).status_code == 404
    assert marketing_client.post(url("line_remove", filled.no, 1)).status_code in (302, 404)


def test_remove_line_asks_first_then_removes_and_undo_brings_it_back(marketing_client, filled):
    line = SegmentLine.objects.get(segment=filled, contact__no="P100")

    confirm = marketing_client.get(url("line_remove", filled.no, line.line_no))
    removed = marketing_client.post(url("line_remove", filled.no, line.line_no))

    assert "Remove line" in confirm.content.decode() and "Dora Delft" in confirm.content.decode()
    assert contacts_of(filled) == ["C100"]
    assert messages_of(removed) == [
        f"Removed line {line.line_no} (P100 Dora Delft); the segment has 1 line. Undo brings it back."
    ]
    marketing_client.post(url("segment_undo", filled.no))
    assert line_nos(filled) == sorted([line.line_no, *line_nos(filled)[:1]])
    assert contacts_of(filled) == ["C100", "P100"]


def line_post(line: SegmentLine, **changes) -> dict:
    values = {
        "description": line.description,
        "subject": line.subject,
        "correspondence_type": line.correspondence_type,
        "language": line.language_id or "",
        "salesperson": line.salesperson_id or "",
        "date": line.date.isoformat(),
        "cost": str(line.cost),
        "duration": str(line.duration),
        "information_flow": line.information_flow,
        "initiated_by": line.initiated_by,
        "evaluation": line.evaluation,
        "campaign": line.campaign_id or "",
        "interaction_template": line.interaction_template_id or "",
        "personal_text": line.personal_text,
    }
    for flag in ("campaign_target", "campaign_response", "send_as_attachment"):
        if getattr(line, flag):
            values[flag] = "on"
    values.update(changes)
    return {f"line-{name}": value for name, value in values.items()}


# --- Undo ---------------------------------------------------------------------------------------


def test_undo_confirmation_says_what_it_will_do(marketing_client, filled):
    marketing_client.post(url("segment_step", filled.no), {"action": "reduce", "type": "person"})

    response = marketing_client.get(url("segment_undo", filled.no))

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    assert "Undo step 2 of" in text
    assert "removes the 0 lines step 2 added" in text
    assert "restores 1 line it removed" in text


def test_undo_of_an_add_removes_its_lines(marketing_client, filled):
    response = marketing_client.post(url("segment_undo", filled.no))

    assert contacts_of(filled) == []
    assert not CriteriaStep.objects.filter(segment=filled).exists()
    assert messages_of(response) == [
        "Undid step 1: add: removed 2 lines and restored 0 lines; the segment has 0 lines."
    ]


def test_undo_of_a_reduce_restores_the_lines_with_their_numbers_and_values(marketing_client, filled, marketing):
    dora = SegmentLine.objects.get(segment=filled, contact__no="P100")
    services.segment_set_line(user=marketing, segment=filled, line_no=dora.line_no, values={"description": "Hi Dora"})
    before = line_nos(filled)
    marketing_client.post(url("segment_step", filled.no), {"action": "reduce", "name": "Dora"})
    assert contacts_of(filled) == ["C100"]

    response = marketing_client.post(url("segment_undo", filled.no))

    assert line_nos(filled) == before
    restored = SegmentLine.objects.get(segment=filled, contact__no="P100")
    assert (restored.description, restored.overridden_fields) == ("Hi Dora", ["description"])
    assert messages_of(response) == [
        "Undid step 2: reduce: removed 0 lines and restored 1 line; the segment has 2 lines."
    ]


def test_undo_with_nothing_to_undo_says_so(marketing_client, segment):
    get = marketing_client.get(url("segment_undo", segment.no))
    post = marketing_client.post(url("segment_undo", segment.no))
    assert get.status_code == 302 and post.status_code == 302
    assert messages_of(get) == [f"{segment.no} has no step to undo."]
    assert messages_of(post) == [f"{segment.no} has no step to undo."]


# --- Saved criteria -----------------------------------------------------------------------------


def test_save_criteria_saves_the_steps_and_reports_how_many(marketing_client, filled):
    marketing_client.post(url("segment_step", filled.no), {"action": "reduce", "type": "person"})

    response = marketing_client.post(
        url("criteria_save", filled.no), {"save-code": "DELFT", "save-description": "Delft companies"}
    )

    saved = SavedCriteria.objects.get(code="DELFT")
    assert [(s.action, s.filter) for s in saved.steps.order_by("position")] == [
        ("add", "city=Delft"),
        ("reduce", "type=person"),
    ]
    assert messages_of(response) == [f"Saved 2 criteria steps of {filled.no} as criteria DELFT."]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("DELFT", "saved criteria &quot;DELFT&quot; already exist."),
        ("", "This field is required."),
        ("X" * 11, "at most 10"),
    ],
)
def test_save_criteria_errors_are_shown_and_nothing_is_written(marketing_client, filled, marketing, code, error):
    services.segment_save_criteria(user=marketing, segment=filled, code="DELFT")
    before = state()

    response = marketing_client.post(url("criteria_save", filled.no), {"save-code": code})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert state() == before


def test_save_criteria_of_a_segment_without_steps_is_refused(marketing_client, segment):
    response = marketing_client.post(url("criteria_save", segment.no), {"save-code": "EMPTY"})
    assert response.status_code == 400
    assert f"{segment.no} has no criteria steps to save." in response.content.decode()
    assert not SavedCriteria.objects.exists()


def test_reuse_criteria_replays_the_steps_as_one_step(marketing_client, filled, marketing):
    services.segment_remove_contacts(user=marketing, segment=filled, action="reduce", query="type=person")
    services.segment_save_criteria(user=marketing, segment=filled, code="DELFT")
    other = services.segment_create(user=marketing, values={"description": "Other"})

    page = marketing_client.get(url("segment_detail", other.no)).content.decode()
    response = marketing_client.post(url("criteria_reuse", other.no), {"reuse-saved_criteria": "DELFT"})

    assert "DELFT (2 steps)" in page
    assert contacts_of(other) == ["C100"]
    assert CriteriaStep.objects.filter(segment=other, parent__isnull=True).count() == 1
    assert messages_of(response) == [
        "Replayed 2 steps of DELFT: added 2 lines and removed 1 line; the segment has 1 line (step 1)."
    ]
    marketing_client.post(url("segment_undo", other.no))
    assert contacts_of(other) == []


def test_reuse_criteria_says_which_steps_did_other_than_recorded(marketing_client, filled, marketing, world):
    services.segment_add_contact(user=marketing, segment=filled, contact=world.bolt)
    services.segment_save_criteria(user=marketing, segment=filled, code="DELFT")
    other = services.segment_create(user=marketing, values={"description": "Other"})
    services.segment_add_contacts(user=marketing, segment=other, query="no=C200")
    make_person(world.acme, no="P101", name="Eva Delft", city="Delft")

    response = marketing_client.post(url("criteria_reuse", other.no), {"reuse-saved_criteria": "DELFT"})

    assert contacts_of(other) == ["C100", "C200", "P100", "P101"]
    assert messages_of(response) == [
        "Not as recorded when DELFT was saved (the contacts or hand edits changed since): "
        "step 1 (add city=Delft): recorded +2, now +3; step 2 (add no=C200): recorded +1, now 0."
    ]
    page = marketing_client.get(url("segment_detail", other.no))
    assert [step.position for step in page.context["steps"]] == [2, 1]  # numbered as the segment's steps
    assert [child.position for child in page.context["steps"][0].replayed] == [1, 2]
    listed = marketing_client.get(url("segment_list")).context["page_obj"].object_list
    assert {row.no: row.no_of_steps for row in listed}[other.no] == 2


def test_reuse_of_criteria_that_no_longer_validate_writes_nothing(marketing_client, segment, marketing, world):
    world.bolt.country = make_country("DE")
    world.bolt.save()
    services.segment_add_contacts(user=marketing, segment=segment, query="country=DE")
    services.segment_save_criteria(user=marketing, segment=segment, code="GERMANY")
    other = services.segment_create(user=marketing, values={"description": "Other"})
    Contact.objects.filter(country="DE").update(country=None)
    Country.objects.filter(code="DE").delete()
    before = state()

    response = marketing_client.post(url("criteria_reuse", other.no), {"reuse-saved_criteria": "GERMANY"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "is no longer valid" in html and "country: unknown code &quot;DE&quot;" in html
    assert state() == before


def test_reuse_of_unknown_criteria_is_an_error(marketing_client, segment):
    response = marketing_client.post(url("criteria_reuse", segment.no), {"reuse-saved_criteria": "NOPE"})
    assert response.status_code == 400
    assert "Those saved criteria do not exist (any more)." in response.content.decode()


# --- Permissions and CSRF -----------------------------------------------------------------------


def action_posts(segment: Segment, line_no: int) -> list[tuple[str, dict]]:
    return [
        (url("segment_header", segment.no), header_post(segment, description="Hacked")),
        (url("segment_step", segment.no), {"action": "add", "city": "Berlin"}),
        (url("segment_undo", segment.no), {}),
        (url("segment_add_contact", segment.no), {"contact_no": "C200"}),
        (url("line_edit", segment.no, line_no), {"line-description": "Hacked"}),
        (url("line_reset", segment.no, line_no), {}),
        (url("line_remove", segment.no, line_no), {}),
        (url("criteria_save", segment.no), {"save-code": "HACK"}),
        (url("criteria_reuse", segment.no), {"reuse-saved_criteria": "HACK"}),
        (url("segment_create"), {"description": "Hacked"}),
    ]


def test_a_viewer_cannot_post_any_action(viewer_client, filled):
    before = state()
    for path, data in action_posts(filled, line_nos(filled)[0]):
        assert viewer_client.post(path, data).status_code == 403, path
    assert state() == before


def test_a_viewer_cannot_open_the_action_pages(viewer_client, filled):
    line_no = line_nos(filled)[0]
    for path in (
        url("segment_undo", filled.no),
        url("line_edit", filled.no, line_no),
        url("line_remove", filled.no, line_no),
        url("segment_preview", filled.no),
    ):
        assert viewer_client.get(path).status_code == 403, path


def test_every_action_needs_the_csrf_token(filled):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("marketing", "csrf-user"))
    before = state()
    for path, data in action_posts(filled, line_nos(filled)[0]):
        assert client.post(path, data).status_code == 403, path
    assert state() == before


def test_action_urls_refuse_get_where_they_only_post(marketing_client, filled):
    line_no = line_nos(filled)[0]
    for path in (
        url("segment_header", filled.no),
        url("segment_step", filled.no),
        url("segment_add_contact", filled.no),
        url("line_reset", filled.no, line_no),
        url("criteria_save", filled.no),
        url("criteria_reuse", filled.no),
    ):
        assert marketing_client.get(path).status_code == 405, path


def test_worksheet_header_shows_the_campaign(marketing_client, segment, marketing):
    campaign = make_campaign(no="CP0042", description="Spring push")
    services.segment_update(
        user=marketing, segment=segment, values={"campaign": campaign, "language": make_language("EN")}
    )
    html = marketing_client.get(url("segment_detail", segment.no)).content.decode()
    assert "CP0042" in html and "Spring push" in html


# --- A logged segment (F3.7 reuse, and a worksheet that was logged meanwhile) -------------------------


def _logged(world, marketing):
    """A logged segment of Acme Delft and Dora Delft (template and salesperson from the world)."""

    segment = services.segment_create(
        user=marketing,
        values={"description": "Logged", "interaction_template": world.template, "salesperson": world.ann},
    )
    services.segment_add_contacts(user=marketing, segment=segment, query="city=Delft")
    return segment, services.segment_log(user=marketing, segment=segment).logged_segment


def test_reuse_logged_adds_one_line_per_entry_as_one_step(marketing_client, segment, world, marketing):
    _old, logged = _logged(world, marketing)

    response = marketing_client.post(url("reuse_logged", segment.no), {"reuse_logged-logged_segment": logged.pk})

    assert response.status_code == 302
    assert contacts_of(segment) == ["C100", "P100"]
    step = CriteriaStep.objects.get(segment=segment)
    assert (step.action, step.source) == ("reuse_logged", str(logged.pk))
    assert messages_of(response) == [
        f"Added 2 lines from logged segment {logged.pk}; the segment has 2 lines (step 1)."
    ]


def test_reuse_of_an_unknown_logged_segment_shows_the_error_and_writes_nothing(marketing_client, segment):
    response = marketing_client.post(url("reuse_logged", segment.no), {"reuse_logged-logged_segment": "999"})

    assert response.status_code == 400
    assert "unknown logged segment &quot;999&quot;" in response.content.decode()
    assert not CriteriaStep.objects.filter(segment=segment).exists()


def test_viewer_cannot_reuse_a_logged_segment(viewer_client, segment):
    response = viewer_client.post(url("reuse_logged", segment.no), {"reuse_logged-logged_segment": "1"})
    assert response.status_code == 403


def test_a_worksheet_that_was_logged_leads_to_its_logged_segment(marketing_client, world, marketing):
    old, logged = _logged(world, marketing)

    page = marketing_client.get(url("segment_detail", old.no))
    action = marketing_client.post(url("segment_undo", old.no))

    for response in (page, action):
        assert response.status_code == 302
        assert response["Location"] == logged.get_absolute_url()
    assert any(f"Segment {old.no} was already logged by {marketing.username}" in m for m in messages_of(page))

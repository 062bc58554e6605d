"""The worksheet as a grid (issue 16): the step button that says what it will do, Count as the
form's default button, panels kept open or closed per user, a line's row for the editor's
Cancel, and pages of lines read by line no. range."""

from __future__ import annotations

import re

import pytest

from crm.models import UserPreference
from segments import selectors, services
from segments.models import SegmentLine
from tests.conftest import make_user
from tests.factories import bulk_contacts
from tests.segments import test_views

HTMX = {"HX-Request": "true"}
url = test_views.url
# The worksheet fixtures of test_views: a world of contacts, a segment, the segment with the Delft contacts.
world, segment, filled = test_views.world, test_views.segment, test_views.filled


def step_label(html: str) -> str:
    return re.search(r'<span id="step-label"[^>]*>([^<]*)</span>', html).group(1)


def test_count_is_the_criteria_forms_first_button_so_enter_counts(marketing_client, segment):
    html = marketing_client.get(url("segment_detail", segment.no)).content.decode()
    form = html[html.index('class="criteria-form"') :]
    buttons = re.findall(r"<button [^>]*>", form[: form.index("</form>")])
    assert 'name="dry_run"' in buttons[0]
    assert 'id="step-button"' in buttons[1]


def test_the_step_button_states_what_the_step_will_do(marketing_client, filled):
    def preview(**data):
        response = marketing_client.get(url("segment_preview", filled.no), data, headers=HTMX)
        html = response.content.decode()
        assert 'hx-swap-oob="true"' in html  # the button's label comes with the count
        return step_label(html)

    assert preview(action="add", city="Berlin") == "Add 1 contact"
    assert preview(action="add") == "Add 1 contact"  # the two Delft contacts are on it already
    assert preview(action="reduce", type="person") == "Remove 1 line"
    assert preview(action="refine", type="person") == "Keep 1 line, remove 1"
    assert preview(action="reduce") == "Set criteria to reduce"
    assert preview(action="add", country="XX") == "Add contacts"  # invalid: no count


def test_an_empty_reduce_or_refine_panel_starts_with_its_step_button_off(marketing_client, filled):
    add = marketing_client.get(url("segment_detail", filled.no)).content.decode()
    reduce = marketing_client.get(url("segment_detail", filled.no), {"panel": "reduce"}).content.decode()
    refine = marketing_client.get(
        url("segment_detail", filled.no), {"panel": "refine"}, headers={**HTMX, "HX-Target": "criteria-panel"}
    ).content.decode()

    assert re.search(r'id="step-button">', add) and step_label(add) == "Add contacts"
    assert re.search(r'id="step-button" disabled>', reduce) and step_label(reduce) == "Set criteria to reduce"
    assert re.search(r'id="step-button" disabled>', refine) and step_label(refine) == "Set criteria to refine"


def test_a_counted_reduce_without_javascript_names_the_lines_it_removes(marketing_client, filled):
    response = marketing_client.post(
        url("segment_step", filled.no), {"action": "reduce", "type": "person", "dry_run": "1"}
    )

    html = response.content.decode()
    assert step_label(html) == "Remove 1 line"
    assert re.search(r'id="step-button">', html)  # not disabled
    assert SegmentLine.objects.filter(segment=filled).count() == 2


def test_a_panel_is_kept_open_or_closed_per_user(marketing_client, filled, marketing):
    closed = marketing_client.get(url("segment_detail", filled.no)).content.decode()
    assert re.search(r'id="criteria-steps" data-panel="steps" data-state="closed">', closed)

    response = marketing_client.post(url("worksheet_panel"), {"panel": "steps", "state": "open"})
    again = marketing_client.post(url("worksheet_panel"), {"panel": "steps", "state": "open"})

    assert (response.status_code, again.status_code) == (204, 204)
    assert list(UserPreference.objects.values_list("user", "key", "value")) == [
        (marketing.pk, "worksheet.steps", "open")
    ]
    opened = marketing_client.get(url("segment_detail", filled.no)).content.decode()
    assert re.search(r'id="criteria-steps" data-panel="steps" data-state="open" open>', opened)
    other = make_user("marketing", username="other")
    other_client = type(marketing_client)()
    other_client.force_login(other)
    theirs = other_client.get(url("segment_detail", filled.no)).content.decode()
    assert 'data-panel="steps" data-state="closed">' in theirs


@pytest.mark.parametrize("data", [{"panel": "nope", "state": "open"}, {"panel": "steps", "state": "wide"}, {}])
def test_an_unknown_panel_or_state_is_refused_and_nothing_kept(marketing_client, data):
    response = marketing_client.post(url("worksheet_panel"), data)

    assert response.status_code == 400
    assert response.content.decode() == "Unknown panel or state."
    assert not UserPreference.objects.exists()


def test_the_line_row_puts_a_cancelled_editor_back(marketing_client, filled):
    line = SegmentLine.objects.filter(segment=filled).order_by("line_no").first()

    row = marketing_client.get(url("line_row", filled.no, line.line_no), headers=HTMX)

    html = row.content.decode()
    assert html.lstrip().startswith(f'<tr id="line-{line.line_no}"')
    assert "step 1: add" in html and 'class="line-edit"' in html


def test_the_line_editor_row_cancels_through_the_row(marketing_client, filled):
    line_no = SegmentLine.objects.filter(segment=filled).order_by("line_no").first().line_no

    html = marketing_client.get(url("line_edit", filled.no, line_no), headers=HTMX).content.decode()

    assert f'class="line-cancel" hx-get="{url("line_row", filled.no, line_no)}"' in html


def test_pages_of_lines_are_the_lines_in_order(segment, marketing, django_assert_max_num_queries):
    bulk_contacts(123)
    services.segment_add_contacts(user=marketing, segment=segment, query="")
    SegmentLine.objects.filter(segment=segment, line_no__in=[20000, 30000, 400000]).delete()  # gaps
    every = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", flat=True))
    count = len(every)

    pages = []
    for number in (1, 2, 3):
        with django_assert_max_num_queries(1):
            page = selectors.lines_page(segment=segment, count=count, number=number)
            pages.append([line.line_no for line in page.object_list])

    assert pages == [every[0:50], every[50:100], every[100:]]
    assert selectors.lines_page(segment=segment, count=count, number=99).number == 3  # past the end: the last
    assert selectors.lines_page(segment=segment, count=0, number=1).object_list == []


def test_next_and_previous_read_the_lines_after_or_before_a_line_no(marketing_client, segment, marketing):
    bulk_contacts(120)
    services.segment_add_contacts(user=marketing, segment=segment, query="")
    every = list(SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", flat=True))
    SegmentLine.objects.filter(segment=segment, line_no=every[50]).delete()  # removed meanwhile
    every.remove(every[50])

    first = marketing_client.get(url("segment_detail", segment.no))
    html = first.content.decode()
    after = re.search(r'\?page=2&amp;after=(\d+)#segment-lines">Next', html).group(1)
    second = marketing_client.get(url("segment_detail", segment.no), {"page": 2, "after": after})
    back = re.search(r'\?page=1&amp;before=(\d+)#segment-lines">', second.content.decode()).group(1)
    previous = marketing_client.get(url("segment_detail", segment.no), {"page": 1, "before": back})
    junk = marketing_client.get(url("segment_detail", segment.no), {"page": 2, "after": "x"})

    def shown(response):
        return [line.line_no for line in response.context["page_obj"].object_list]

    assert int(after) == every[49]
    assert shown(second) == every[50:100] and second.context["page_obj"].number == 2
    assert shown(previous) == every[0:50]
    assert shown(junk) == every[50:100]  # a malformed line no. falls back to the page number

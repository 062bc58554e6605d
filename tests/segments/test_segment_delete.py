"""Delete a segment that was never logged (segments.services.delete, segments/delete_views.py):
everything that belongs to it goes in one transaction, a second delete is harmless, and the
confirmation page shows the counts."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from interactions.models import Document, LoggedSegment
from segments import services
from segments.documents import segment_line_document_set
from segments.models import (
    CriteriaStep,
    JobState,
    LogJob,
    MergeJob,
    MergeOutput,
    RemovedSegmentLine,
    Segment,
    SegmentLanguage,
    SegmentLine,
    StepAction,
)
from segments.services.delete import segment_delete
from segments.services.log import _delete_segment
from tests.conftest import make_user
from tests.factories import attach_word_template, make_company, make_language, make_person, make_template
from tests.interactions.docx_builders import docx_bytes


def build() -> dict:
    """A segment with a template (its Word document copied to the segment), three lines, a reduce
    that removed one (kept for undo), and a line with its own Word document."""
    english = make_language("EN")
    template = make_template("LETTER", language=english, correspondence_type="")
    template_doc = attach_word_template(template, "Hello {{ contact.name }}.")
    company = make_company(no="C1", name="Smith", language=english)
    make_person(company, no="P1", name="Anna", language=english)
    make_person(company, no="P2", name="Pierre", language=english)
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Old", "interaction_template": template}
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="company_no=C1")
    services.segment_remove_contacts(user=COMMAND_LINE, segment=segment, action=StepAction.REDUCE, query="no=P2")
    line = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    own = segment_line_document_set(
        user=COMMAND_LINE, segment=segment, line_no=line.line_no, data=docx_bytes("Mine"), file_name="own.docx"
    )
    other = services.segment_create(user=COMMAND_LINE, values={"description": "Other"})
    services.segment_add_contacts(user=COMMAND_LINE, segment=other, query="company_no=C1")
    return {"segment": segment, "other": other, "template_doc": template_doc, "own_doc": own}


def counts_of(segment) -> tuple[int, int, int, int]:
    return (
        SegmentLine.objects.filter(segment_id=segment.pk).count(),
        RemovedSegmentLine.objects.filter(segment_id=segment.pk).count(),
        CriteriaStep.objects.filter(segment_id=segment.pk).count(),
        SegmentLanguage.objects.filter(segment_id=segment.pk).count(),
    )


@pytest.mark.django_db
def test_delete_removes_the_segment_with_its_lines_steps_undo_journal_languages_and_own_documents():
    world = build()
    segment, other = world["segment"], world["other"]
    assert counts_of(segment) == (2, 1, 2, 1)
    merge = MergeJob.objects.create(segment=segment, segment_no=segment.no, output=MergeOutput.DOCX)
    other_before = counts_of(other)

    deleted = segment_delete(user=COMMAND_LINE, segment=segment.no)

    assert (deleted.no, deleted.lines, deleted.documents) == (segment.no, 2, 1)
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert counts_of(segment) == (0, 0, 0, 0)
    assert not Document.objects.filter(pk=world["own_doc"].pk).exists()  # only this segment used it
    assert Document.objects.filter(pk=world["template_doc"].pk).exists()  # the template still does
    merge.refresh_from_db()
    assert merge.segment_id is None and merge.segment_no == segment.no  # a job keeps its segment no.
    assert counts_of(other) == other_before  # the other segment is untouched


@pytest.mark.django_db
def test_a_second_delete_says_the_segment_is_gone_and_writes_nothing():
    world = build()
    segment_delete(user=COMMAND_LINE, segment=world["segment"].no)
    other_before = counts_of(world["other"])

    with pytest.raises(ValidationError) as refused:
        segment_delete(user=COMMAND_LINE, segment=world["segment"].no)

    assert refused.value.code == "segment_gone"
    assert "does not exist" in refused.value.messages[0]
    assert counts_of(world["other"]) == other_before


@pytest.mark.django_db
def test_delete_needs_the_delete_permission_and_writes_nothing_without_it():
    world = build()
    with pytest.raises(PermissionDenied, match="segments.delete_segment needed"):
        segment_delete(user=make_user("viewer"), segment=world["segment"].no)
    assert counts_of(world["segment"]) == (2, 1, 2, 1)


@pytest.mark.django_db
def test_a_segment_being_logged_is_not_deleted():
    world = build()
    segment = world["segment"]
    LogJob.objects.create(segment=segment, segment_no=segment.no, segment_uuid=segment.uuid, state=JobState.RUNNING)
    with pytest.raises(ValidationError, match="cannot be deleted while its Log runs") as refused:
        segment_delete(user=COMMAND_LINE, segment=segment.no)
    assert refused.value.code == "log_running"
    assert counts_of(segment) == (2, 1, 2, 1)


@pytest.mark.django_db
def test_a_logged_segment_cannot_be_deleted_and_says_who_logged_it():
    world = build()
    segment = world["other"]
    # What the Log leaves: the logged segment, and the segment gone (segments.services.log).
    LoggedSegment.objects.create(segment_no=segment.no, source_uuid=segment.uuid, description="Other")
    _delete_segment(segment)
    with pytest.raises(services.SegmentAlreadyLogged, match=f"Segment {segment.no} was already logged"):
        segment_delete(user=COMMAND_LINE, segment=segment)


@pytest.mark.django_db(transaction=True)
def test_two_users_deleting_at_once_delete_it_once_and_the_other_is_told():
    world = build()
    segment = world["segment"]
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = segment_delete(user=COMMAND_LINE, segment=segment.no)
        except BaseException as error:  # inspected below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], ValidationError) and errors[0].code == "segment_gone"
    assert counts_of(segment) == (0, 0, 0, 0)
    assert counts_of(world["other"])[0] == 3


# --- The pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_confirmation_shows_the_counts_and_the_post_deletes(marketing_client, django_assert_max_num_queries):
    world = build()
    segment = world["segment"]
    url = reverse("segments:segment_delete", args=[segment.no])

    with django_assert_max_num_queries(8):
        page = marketing_client.get(url)

    text = page.content.decode()
    assert page.status_code == 200
    assert f"Delete segment {segment.no}" in text
    assert "<strong>2</strong> lines" in text
    assert "<strong>2</strong> criteria steps" in text
    assert "<strong>1</strong> line with its own Word document" in text

    done = marketing_client.post(url, follow=True)
    assert done.redirect_chain[-1][0] == reverse("segments:segment_list")
    assert f"Deleted segment {segment.no} and its 2 lines." in done.content.decode()
    assert not Segment.objects.filter(pk=segment.pk).exists()

    again = marketing_client.post(url, follow=True)  # the back button, or another user was quicker
    assert f"Segment {segment.no} no longer exists" in again.content.decode()


@pytest.mark.django_db
def test_a_viewer_sees_no_delete_link_and_gets_403(viewer_client, marketing_client):
    world = build()
    segment = world["segment"]
    url = reverse("segments:segment_delete", args=[segment.no])
    assert url in marketing_client.get(reverse("segments:segment_list")).content.decode()
    assert url not in viewer_client.get(reverse("segments:segment_list")).content.decode()
    assert url in marketing_client.get(segment.get_absolute_url()).content.decode()  # the worksheet's Delete…
    assert url not in viewer_client.get(segment.get_absolute_url()).content.decode()
    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()

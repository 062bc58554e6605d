"""Print letters from the worksheet (SPEC D9): the Word mail merge of a segment's lines.

The GET of "Print letters" says how many letters the merge makes and from which Word documents,
or why it cannot run (lines without a Word document, named by template and language). The POST
starts a merge job (segments.merge.merge_job_start): a small one is finished on return, a large
one is queued for a worker. Either way the user lands on the job page, which shows the progress
(an htmx fragment polled every second while the job is queued or running) and, when it is done,
the download and a summary. Reading needs segments.view_segment; starting a merge
segments.run_mail_merge. The job page and the download keep working after the segment was logged
or deleted (the job keeps the segment number).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from crm.counts import counted
from crm.untrusted import CheckedForm
from crm.worker import takeover_delay
from interactions.models import Document
from interactions.pdf import pdf_unavailable
from interactions.views.documents import document_response

from .documents import (
    language_fallback_notices,
    missing_word_document_counts,
    missing_word_document_problem,
    nulls_first,
    word_document_groups,
)
from .merge import merge_job_restart, merge_job_stalled, merge_job_start
from .models import MergeJob, MergeOutput, MergeState, Segment, SegmentLine
from .services.statistics import page_queries
from .views import SegmentPermissionMixin, get_segment

PAGE = "segments/merge_form.html"
JOB_PAGE = "segments/merge_job.html"
DOCUMENT_ROWS = 50
RECENT_JOBS = 5


def letters_text(count: int) -> str:
    return counted(ngettext("%(count)s letter", "%(count)s letters", count), count)


class OutputSelect(forms.RadioSelect):
    """Radio buttons of which some are shown disabled (`disabled_values`)."""

    def __init__(self, *args, disabled_values=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.disabled_values = set(disabled_values)

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if value in self.disabled_values:
            option["attrs"]["disabled"] = True
        return option


class MergeForm(CheckedForm):
    """What to make: one combined .docx to print, a .zip of one .docx per line, or one PDF of
    all letters. Without LibreOffice the PDF choice is shown disabled and refused, with
    `pdf_unavailable` saying what to install."""

    output = forms.ChoiceField(
        label=gettext_lazy("Make"),
        choices=MergeOutput.choices,
        initial=MergeOutput.DOCX,
        widget=OutputSelect,
        error_messages={"required": gettext_lazy("Choose what to make: one combined .docx, a .zip or a PDF.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pdf_unavailable = pdf_unavailable()
        if self.pdf_unavailable:
            self.fields["output"].widget.disabled_values = {MergeOutput.PDF.value}

    def clean_output(self) -> str:
        output = self.cleaned_data["output"]
        if output == MergeOutput.PDF and self.pdf_unavailable:
            raise ValidationError(self.pdf_unavailable, code="no_libreoffice")
        return output


@dataclass(frozen=True)
class MergeDocumentRow:
    """One Word document the merge uses, and for how many lines."""

    document_id: int
    file_name: str
    template: str
    language: str
    lines: int
    own: bool  # a line's own document (R67), not the template's


@dataclass(frozen=True)
class MergePlan:
    """What "Print letters" would make: the number of letters (one per line), the documents
    they come from (first DOCUMENT_ROWS), and every reason the merge cannot run."""

    letters: int
    documents: list[MergeDocumentRow]
    more_documents: int
    problems: list[str]
    # Lines whose contact's language has no Word document, merged from another language's.
    language_notices: list[str] = field(default_factory=list)


def merge_plan(*, segment: Segment) -> MergePlan:
    """The numbers of the "Print letters" page. Writes nothing; four small queries whatever the
    number of lines: one pass over the lines counted by what decides their Word document
    (segments.documents.word_document_groups, with the segment's and templates' language rows),
    which also gives the lines without a document, and the shown documents' names."""
    totals: dict[tuple, list[int]] = {}
    with page_queries():
        lines = SegmentLine.objects.filter(segment=segment)
        groups = word_document_groups(segment, lines)
        notices = language_fallback_notices(segment, lines, {group["interaction_template_id"] for group in groups})
    for group in groups:
        key = (group["word_document_id"], group["interaction_template_id"], group["language_id"])
        total = totals.setdefault(key, [0, 0])
        total[0] += group["lines"]
        total[1] += group["lines"] if group["document_id"] is not None else 0
    letters = sum(lines for lines, _own in totals.values())
    if not letters:
        return MergePlan(0, [], 0, [_("%(no)s has no lines: add contacts first.") % {"no": segment.no}])
    with_document = sorted(
        (key for key in totals if key[0] is not None), key=lambda key: nulls_first(key[1], key[2], key[0])
    )
    shown = with_document[:DOCUMENT_ROWS]
    names = dict(Document.objects.filter(pk__in=[key[0] for key in shown]).values_list("pk", "file_name"))
    documents = [
        MergeDocumentRow(
            document_id=document_id,
            file_name=names.get(document_id, ""),
            template=template or "",
            language=language or "",
            lines=totals[document_id, template, language][0],
            own=bool(totals[document_id, template, language][1]),
        )
        for document_id, template, language in shown
    ]
    problems = [missing_word_document_problem(*row) for row in missing_word_document_counts(groups)]
    return MergePlan(letters, documents, len(with_document) - len(shown), problems, notices)


def merge_job_url(job: MergeJob) -> str:
    return reverse("segments:merge_job", args=[job.pk])


class SegmentMergeView(SegmentPermissionMixin, View):
    """ "Print letters": the GET states what the merge makes (or why it cannot), the POST starts it.

    GET needs segments.view_segment (a viewer sees the numbers, without the button); POST
    segments.run_mail_merge.
    """

    def get_permission_required(self):
        if self.request.method == "POST":
            return ("segments.run_mail_merge",)
        return ("segments.view_segment",)

    def render(self, request, segment: Segment, form: MergeForm, *, status: int = 200, problems=()) -> HttpResponse:
        plan = merge_plan(segment=segment)
        context = {
            "segment": segment,
            "form": form,
            "plan": plan,
            "problems": [*plan.problems, *problems],
            "can_merge": request.user.has_perm("segments.run_mail_merge"),
            "recent_jobs": list(
                MergeJob.objects.filter(segment=segment).select_related("created_by").defer("error")[:RECENT_JOBS]
            ),
        }
        return TemplateResponse(request, PAGE, context, status=status)

    def get(self, request, no: str) -> HttpResponse:
        return self.render(request, get_segment(no), MergeForm())

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = MergeForm(request.POST)
        if not form.is_valid():
            return self.render(request, segment, form, status=400)
        try:
            job = merge_job_start(user=request.user, segment=segment, output=form.cleaned_data["output"])
        except ValidationError as error:
            return self.render(request, segment, form, status=400, problems=error.messages)
        if job.state == MergeState.FINISHED:
            messages.success(
                request,
                _("Made %(letters)s of %(no)s: download the file below.")
                % {"letters": letters_text(job.done), "no": job.segment_no},
            )
        elif job.state == MergeState.FAILED:
            messages.error(
                request, _("The merge of %(no)s failed: %(error)s") % {"no": job.segment_no, "error": job.error}
            )
        else:
            messages.info(
                request,
                _("The merge of %(no)s (%(letters)s) is queued; this page shows its progress.")
                % {"no": job.segment_no, "letters": letters_text(job.total)},
            )
        return redirect(merge_job_url(job))


@dataclass(frozen=True)
class JobProgress:
    """The progress bar of a merge job."""

    done: int
    total: int
    percent: int
    active: bool
    stalled: bool = False


def job_progress(job: MergeJob) -> JobProgress:
    total = job.total
    done = min(job.done, total) if total else job.done
    percent = min(100, done * 100 // total) if total else 0
    if job.state == MergeState.FINISHED:
        percent = 100
    return JobProgress(
        done, total, percent, job.state in (MergeState.QUEUED, MergeState.RUNNING), merge_job_stalled(job)
    )


def get_job(pk: int) -> MergeJob:
    jobs = MergeJob.objects.select_related("created_by", "segment").defer("segment__description")
    return get_object_or_404(jobs, pk=pk)


class MergeJobView(SegmentPermissionMixin, View):
    """A merge job: its progress while queued or running (htmx polls the `progress` partial
    every second and stops when the job is done), then the download and the summary, or the
    error of a failed job. Two queries."""

    permission_required = "segments.view_segment"

    def get(self, request, pk: int) -> HttpResponse:
        job = get_job(pk)
        context = {
            "job": job,
            "progress": job_progress(job),
            "file_name": _file_name(job),
            "poll_url": request.path,
            "can_merge": request.user.has_perm("segments.run_mail_merge"),
            "takeover": takeover_delay(),
        }
        template = JOB_PAGE + "#progress" if request.htmx else JOB_PAGE
        return TemplateResponse(request, template, context)


class MergeJobRestartView(SegmentPermissionMixin, View):
    """POST: start a stalled merge job again (its worker stopped; segments.merge.merge_job_restart)."""

    permission_required = "segments.run_mail_merge"

    def post(self, request, pk: int) -> HttpResponse:
        job = get_job(pk)
        try:
            job = merge_job_restart(user=request.user, job_id=job.pk)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Merge %(pk)s started again.") % {"pk": job.pk})
        return redirect(merge_job_url(job))


def _file_name(job: MergeJob) -> str:
    if job.document_id is None:
        return ""
    return Document.objects.filter(pk=job.document_id).values_list("file_name", flat=True).first() or ""


class MergeJobDownloadView(SegmentPermissionMixin, View):
    """The file a finished merge job made, as an attachment (a .docx, a .zip or a PDF)."""

    permission_required = "segments.view_segment"

    def get(self, request, pk: int) -> HttpResponse:
        job = get_object_or_404(MergeJob.objects.select_related("document"), pk=pk)
        if job.document is None:
            raise Http404(_("Merge %(pk)s has no file (yet).") % {"pk": job.pk})
        return document_response(job.document)

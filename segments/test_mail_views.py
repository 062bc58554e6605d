"""A test e-mail before the real thing (issue 14, part 5): "Send a test to me" on the Log page
and on a line's letter page.

Each is a POST (CSRF-checked) to its own URL that calls segments.services.segment_line_test_mail
and redirects back with the outcome as a message (post/redirect/get): "Test e-mail sent to
<address> (line N, <contact>)", or why nothing was sent. They need segments.log_segment, as the
Log page does; a GET is not allowed (405). The Log page's form says which line (default: the
segment's first e-mail line); the letter page's is its line.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy
from django.views import View

from crm.untrusted import CheckedForm

from .document_views import letter_url
from .models import Segment
from .services import TestMailRefused, segment_line_test_mail
from .views import SegmentPermissionMixin, get_segment


class TestMailForm(CheckedForm):
    """Which line to send as a test; blank: the segment's first e-mail line."""

    __test__ = False  # not a pytest test class

    line = forms.IntegerField(
        label=gettext_lazy("Line"),
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        error_messages={
            "invalid": gettext_lazy("No test e-mail was sent: give the line's number."),
            "min_value": gettext_lazy("No test e-mail was sent: lines are numbered from 1."),
            "max_value": gettext_lazy("No test e-mail was sent: there is no such line."),
        },
    )


def send_test_mail(request, segment: Segment, line_no: int | None) -> None:
    """Send the test e-mail and say the outcome as a message."""
    try:
        sent = segment_line_test_mail(user=request.user, segment=segment, line_no=line_no)
    except TestMailRefused as refused:
        for message in refused.messages:
            messages.error(request, message)
    else:
        messages.success(request, sent.message)


class SegmentTestMailView(SegmentPermissionMixin, View):
    """The Log page's "Send a test to me": the posted line, else the first e-mail line."""

    permission_required = "segments.log_segment"

    def post(self, request, no: str) -> HttpResponse:
        segment = get_segment(no)
        form = TestMailForm(request.POST)
        if form.is_valid():
            send_test_mail(request, segment, form.cleaned_data["line"])
        else:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        return redirect("segments:segment_log", segment.no)


class LineTestMailView(SegmentPermissionMixin, View):
    """The letter page's "Send a test to me": this line."""

    permission_required = "segments.log_segment"

    def post(self, request, no: str, line_no: int) -> HttpResponse:
        segment = get_segment(no)
        send_test_mail(request, segment, line_no)
        return redirect(letter_url(segment, line_no))

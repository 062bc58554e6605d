"""Writes on segments (STYLE.md: a services package, one module per concern).

- `worksheet`: header, selection steps, manual lines, undo, saved criteria, reuse of a logged
  segment, one line's values;
- `log`: the Log transaction (pre-flight, logged segment, entries, campaign entries, the
  segment's removal) and the follow-up of a logged segment;
- `test_mail`: one line's e-mail sent to the user as a test (writes nothing).
- `consent`: the lines and contacts that consent rules leave out (D17), set-based.

The public names are re-exported here, so callers write `from segments import services`.
"""

from .consent import LeftOut
from .log import LogPreflightError, LogResult, logged_segment_follow_up, segment_log, segment_log_problems
from .test_mail import TestMail, TestMailRefused, segment_line_test_mail
from .worksheet import (
    ADD_OPTIONS,
    CORRESPONDENCE_INPUTS,
    DERIVED_LINE_FIELDS,
    HEADER_FIELDS,
    LINE_COPY_FIELDS,
    LINE_FIELDS,
    LINE_NO_STEP,
    PROPAGATED_FIELDS,
    SEGMENT_SERIES,
    TEMPLATE_DEFAULTS,
    Criteria,
    SegmentAlreadyLogged,
    StepResult,
    _lock,
    _without_jit,
    add_candidates,
    already_logged,
    criteria,
    reuse_logged_lines,
    segment_add_contact,
    segment_add_contacts,
    segment_count,
    segment_create,
    segment_drop_withdrawn,
    segment_remove_contacts,
    segment_remove_line,
    segment_reuse_criteria,
    segment_reuse_logged,
    segment_save_criteria,
    segment_set_line,
    segment_undo,
    segment_update,
)

__all__ = [
    "ADD_OPTIONS",
    "CORRESPONDENCE_INPUTS",
    "DERIVED_LINE_FIELDS",
    "HEADER_FIELDS",
    "LINE_COPY_FIELDS",
    "LINE_FIELDS",
    "LINE_NO_STEP",
    "PROPAGATED_FIELDS",
    "SEGMENT_SERIES",
    "TEMPLATE_DEFAULTS",
    "Criteria",
    "LeftOut",
    "LogPreflightError",
    "LogResult",
    "SegmentAlreadyLogged",
    "StepResult",
    "TestMail",
    "TestMailRefused",
    "_lock",
    "_without_jit",
    "add_candidates",
    "already_logged",
    "criteria",
    "logged_segment_follow_up",
    "reuse_logged_lines",
    "segment_add_contact",
    "segment_add_contacts",
    "segment_count",
    "segment_create",
    "segment_drop_withdrawn",
    "segment_log",
    "segment_line_test_mail",
    "segment_log_problems",
    "segment_remove_contacts",
    "segment_remove_line",
    "segment_reuse_criteria",
    "segment_reuse_logged",
    "segment_save_criteria",
    "segment_set_line",
    "segment_undo",
    "segment_update",
]

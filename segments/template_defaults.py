"""The new-segment form as it is once a template is chosen: the template's defaults shown at once
(an htmx GET of the form on change), not only after saving (segments.services.segment_create
applies the same defaults)."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from interactions.models import InteractionTemplate, InteractionTemplateLanguage

from .forms import CREATE_FIELDS, SegmentCreateForm
from .models import Segment
from .services.worksheet import _apply_template_defaults


def template_defaults(template: InteractionTemplate) -> dict:
    """The create form's values a template gives: as `_apply_template_defaults` sets them on a new
    header, and the subject of the template's row for its language. Description and campaign
    only fill a blank (the caller keeps what the user chose)."""
    header = Segment()
    _apply_template_defaults(header, template)
    row = InteractionTemplateLanguage.objects.filter(template=template, language_id=header.language_id).first()
    return {
        "description": header.description,
        "campaign": header.campaign_id,
        "language": header.language_id,
        "subject": row.subject if row else "",
        "correspondence_type": header.correspondence_type,
        "campaign_target": header.campaign_target,
    }


def create_form(query: QueryDict) -> tuple[SegmentCreateForm, InteractionTemplate | None]:
    """The new-segment form for a GET: empty, or, when `query` names a template (the form sent by
    htmx when the template changes), what the user entered with the template's defaults filled in.
    """
    code = query.get("interaction_template", "")
    template = InteractionTemplate.objects.select_related("campaign").filter(pk=code).first() if code else None
    if template is None:
        return (SegmentCreateForm(initial=_entered(query)) if query else SegmentCreateForm()), None
    initial = _entered(query)
    for name, value in template_defaults(template).items():
        if name in ("description", "campaign") and initial.get(name):
            continue  # the user's own description and campaign stay
        initial[name] = value
    initial["interaction_template"] = template.pk
    return SegmentCreateForm(initial=initial), template


def _entered(query: QueryDict) -> dict:
    """What the user had entered, by field (a checkbox sent only when ticked)."""
    form = SegmentCreateForm()
    entered = {}
    for name in CREATE_FIELDS:
        if isinstance(form.fields[name], forms.BooleanField):
            entered[name] = name in query
        elif name in query:
            entered[name] = query.get(name)
    return entered

"""Interaction groups and templates (SPEC F1.8, F1.9).

A template carries the defaults a segment line or a single interaction takes: description,
cost, duration, information flow, initiated by, correspondence type, campaign and language.
Each template has language rows (description and subject per language); the Word documents of
those rows arrive with the Word-merge work.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.models import CODE_VALIDATOR, Campaign, CodedModel, CodeQuerySet, CorrespondenceType, Language


class InformationFlow(models.TextChoices):
    OUTBOUND = "outbound", _("Outbound")
    INBOUND = "inbound", _("Inbound")


class InitiatedBy(models.TextChoices):
    US = "us", _("Us")
    THEM = "them", _("Them")


class Evaluation(models.TextChoices):
    VERY_POSITIVE = "very_positive", _("Very positive")
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")
    VERY_NEGATIVE = "very_negative", _("Very negative")


class InteractionGroup(CodedModel):
    name = models.CharField(_("description"), max_length=100, blank=True)

    class Meta(CodedModel.Meta):
        verbose_name = _("interaction group")
        verbose_name_plural = _("interaction groups")


class InteractionTemplate(models.Model):
    code = models.CharField(_("code"), max_length=10, primary_key=True, validators=[CODE_VALIDATOR])
    group = models.ForeignKey(
        InteractionGroup, on_delete=models.PROTECT, related_name="templates", verbose_name=_("interaction group")
    )
    description = models.CharField(
        _("description"), max_length=100, help_text=_("The default description of lines and entries.")
    )
    unit_cost = models.DecimalField(
        _("unit cost"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    unit_duration = models.DecimalField(
        _("unit duration (min.)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    information_flow = models.CharField(
        _("information flow"), max_length=10, choices=InformationFlow.choices, blank=True
    )
    initiated_by = models.CharField(_("initiated by"), max_length=10, choices=InitiatedBy.choices, blank=True)
    correspondence_type = models.CharField(
        _("correspondence type (default)"),
        max_length=10,
        choices=CorrespondenceType.choices,
        blank=True,
        default=CorrespondenceType.EMAIL,
    )
    ignore_contact_correspondence_type = models.BooleanField(
        _("ignore contact correspondence type"),
        default=False,
        help_text=_("Use the template's correspondence type even when the contact prefers another."),
    )
    language = models.ForeignKey(
        Language,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("language (default)"),
        help_text=_("Must be one of the template's languages; a row is created for it when missing."),
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("campaign")
    )
    campaign_target = models.BooleanField(_("campaign target"), default=False)
    campaign_response = models.BooleanField(_("campaign response"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("interaction template")
        verbose_name_plural = _("interaction templates")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="template_unit_cost_not_negative"),
            models.CheckConstraint(condition=Q(unit_duration__gte=0), name="template_unit_duration_not_negative"),
            models.CheckConstraint(
                condition=Q(information_flow="") | Q(information_flow__in=InformationFlow.values),
                name="template_information_flow_valid",
            ),
            models.CheckConstraint(
                condition=Q(initiated_by="") | Q(initiated_by__in=InitiatedBy.values),
                name="template_initiated_by_valid",
            ),
            models.CheckConstraint(
                condition=Q(correspondence_type="") | Q(correspondence_type__in=CorrespondenceType.values),
                name="template_correspondence_type_valid",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="template_description_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.description}"

    def natural_key(self) -> tuple[str]:
        return (self.code,)


class InteractionTemplateLanguage(models.Model):
    """A language of a template: its description and subject in that language (SPEC F1.9)."""

    template = models.ForeignKey(
        InteractionTemplate, on_delete=models.CASCADE, related_name="languages", verbose_name=_("template")
    )
    language = models.ForeignKey(
        Language, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("language")
    )
    description = models.CharField(_("description"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("interaction template language")
        verbose_name_plural = _("interaction template languages")
        ordering = ["template", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "language"],
                condition=Q(language__isnull=False),
                name="template_language_unique",
            ),
            models.UniqueConstraint(
                fields=["template"], condition=Q(language__isnull=True), name="template_blank_language_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_id}/{self.language_id or '-'}"

    def clean(self) -> None:
        if self.description and "\n" in self.description:
            raise ValidationError({"description": _("Use one line.")}, code="newline")

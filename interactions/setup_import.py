"""The set-up import (CONTRACT.md `import_setup`): reference data, interaction groups and templates.

`crm.setup_import.SetupImport` plans the contact reference data (countries … salespeople,
salutations, campaigns); this module adds the interaction groups and templates, which may name
languages, groups and campaigns of the same file in any order. The `import_setup` command and
any page that imports a set-up file call `setup_import`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils import timezone

from crm.importing import BATCH_SIZE, known_codes
from crm.models import Campaign, CorrespondenceType, Salutation, SalutationFormula
from crm.permissions import require
from crm.setup_import import CODED_SECTIONS, MISSING, SetupImport, Write, apply_values, max_length, strings

from .models import InformationFlow, InitiatedBy, InteractionGroup, InteractionTemplate, InteractionTemplateLanguage

TEMPLATE_KEYS = (
    "code",
    "group",
    "description",
    "unit_cost",
    "unit_duration",
    "information_flow",
    "initiated_by",
    "correspondence_type",
    "ignore_contact_correspondence_type",
    "language",
    "campaign",
    "campaign_target",
    "campaign_response",
)
TEMPLATE_FIELDS = (
    "group_id",
    "description",
    "unit_cost",
    "unit_duration",
    "information_flow",
    "initiated_by",
    "correspondence_type",
    "ignore_contact_correspondence_type",
    "language_id",
    "campaign_id",
    "campaign_target",
    "campaign_response",
)
# What `setup_import` writes: its actor needs to add and change each of these.
SETUP_PERMISSIONS = tuple(
    f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    for model in (
        *CODED_SECTIONS.values(),
        Salutation,
        SalutationFormula,
        InteractionGroup,
        Campaign,
        InteractionTemplate,
        InteractionTemplateLanguage,
    )
    for action in ("add", "change")
)


def setup_import(*, user, data: Any, dry_run: bool = False) -> dict[str, int]:
    """Upsert reference data by code from a parsed JSON document (CONTRACT.md `import_setup`).

    Guarantees:
    - All or nothing: every section is checked before anything is written; any problem raises
      `crm.importing.ImportFailed` with one line per problem naming section, index (0-based) and
      field (`interaction_templates[2].group: unknown code "XX"`). The writes are one
      `transaction.atomic(durable=True)`.
    - References resolve whatever the order of the keys: a template may name a group, language
      or campaign that the same file lists before or after it, or that the database holds.
    - Idempotent: a row is written only when one of its values differs, so running the same file
      twice changes nothing the second time. Upsert only: rows and salutation formulas the file
      does not mention are kept; a key left out of an object keeps the current value (the
      model's default on a new row); `null` clears an optional value.
    - A template whose language has no language row (InteractionTemplateLanguage) gets one,
      described with the template's description.
    - A fixed number of queries per section (plus one per 2,000 new rows), whatever the file.

    Returns, per section present in the file, the number of its entries. `dry_run` checks and
    writes as usual, then rolls back. The actor `user` (a web user, or COMMAND_LINE) needs
    SETUP_PERMISSIONS (add and change of every section).
    """
    require(user, SETUP_PERMISSIONS)
    return InteractionSetupImport.apply(data, dry_run=dry_run)


class InteractionSetupImport(SetupImport):
    """The crm sections, then the interaction groups and templates (templates are written last:
    they point at groups, languages and campaigns written before them)."""

    SECTIONS: ClassVar[tuple[str, ...]] = (*SetupImport.SECTIONS, "interaction_groups", "interaction_templates")

    def references(self) -> dict[str, set[str]]:
        return {
            **super().references(),
            "interaction_groups": known_codes(InteractionGroup) | self.file_codes("interaction_groups"),
        }

    def plan(self) -> list[Write]:
        return [
            *super().plan(),
            self.plan_coded("interaction_groups", InteractionGroup, name_key="description"),
            self.plan_templates(),
        ]

    def plan_templates(self) -> Write:
        items = self.section("interaction_templates")
        existing = InteractionTemplate.objects.in_bulk(strings(items, "code"))
        campaign_nos = dict(
            Campaign.objects.filter(pk__in={t.campaign_id for t in existing.values() if t.campaign_id}).values_list(
                "pk", "no"
            )
        )
        language_rows = set(
            InteractionTemplateLanguage.objects.filter(template__in=list(existing)).values_list(
                "template_id", "language_id"
            )
        )
        cost_field = InteractionTemplate._meta.get_field("unit_cost")
        duration_field = InteractionTemplate._meta.get_field("unit_duration")
        planned: list[tuple[InteractionTemplate, bool]] = []
        seen: dict[str, int] = {}
        for index, data in enumerate(items):
            item = self.record(f"interaction_templates[{index}]", data, TEMPLATE_KEYS)
            if not item.is_object:
                continue
            code = item.code("code", InteractionTemplate._meta.pk.max_length)
            obj = existing.get(code) if code is not MISSING else None
            group = item.reference("group", self.known["interaction_groups"])
            if group is None or (obj is None and not item.has("group")):
                item.error("group", "required: every template belongs to an interaction group")
            values = {
                "group_id": group,
                "description": item.string(
                    "description",
                    max_length(InteractionTemplate, "description"),
                    required=obj is None or item.has("description"),
                ),
                "unit_cost": item.decimal("unit_cost", cost_field),
                "unit_duration": item.decimal("unit_duration", duration_field),
                "information_flow": item.choice("information_flow", InformationFlow.values),
                "initiated_by": item.choice("initiated_by", InitiatedBy.values),
                "correspondence_type": item.choice("correspondence_type", CorrespondenceType.values),
                "ignore_contact_correspondence_type": item.boolean("ignore_contact_correspondence_type"),
                "language_id": item.reference("language", self.known["languages"]),
                "campaign_target": item.boolean("campaign_target"),
                "campaign_response": item.boolean("campaign_response"),
            }
            campaign_no = item.reference("campaign", self.known["campaigns"], label="campaign")
            if self.duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            is_new = obj is None
            if is_new:
                obj = InteractionTemplate(code=code)
            before = None if is_new else _template_snapshot(obj, campaign_nos)
            apply_values(obj, values)
            if campaign_no is not MISSING:
                obj.campaign_id = None
                obj._import_campaign_no = campaign_no
            else:
                obj._import_campaign_no = campaign_nos.get(obj.campaign_id) if obj.campaign_id else None
            if is_new or _template_snapshot(obj, campaign_nos) != before:
                planned.append((obj, is_new))

        def write() -> None:
            # Campaigns of the file exist by now: resolve numbers to keys with one query.
            nos = {obj._import_campaign_no for obj, _ in planned if obj._import_campaign_no}
            campaign_ids = dict(Campaign.objects.filter(no__in=nos).values_list("no", "pk"))
            now = timezone.now()
            for obj, _ in planned:
                obj.campaign_id = campaign_ids.get(obj._import_campaign_no)
                obj.updated_at = now
            InteractionTemplate.objects.bulk_create([obj for obj, is_new in planned if is_new])
            changed = [obj for obj, is_new in planned if not is_new]
            if changed:
                fields = [InteractionTemplate._meta.get_field(f).name for f in TEMPLATE_FIELDS]
                InteractionTemplate.objects.bulk_update(changed, [*fields, "updated_at"], batch_size=BATCH_SIZE)
            rows = []
            for obj, _ in planned:
                if obj.language_id and (obj.pk, obj.language_id) not in language_rows:
                    language_rows.add((obj.pk, obj.language_id))
                    rows.append(
                        InteractionTemplateLanguage(
                            template_id=obj.pk, language_id=obj.language_id, description=obj.description
                        )
                    )
            InteractionTemplateLanguage.objects.bulk_create(rows, batch_size=BATCH_SIZE)

        return write


def _template_snapshot(template: InteractionTemplate, campaign_nos: dict[int, str]) -> tuple:
    """The template's imported values, with its campaign by number (file campaigns have no key yet)."""
    values = [getattr(template, field) for field in TEMPLATE_FIELDS if field != "campaign_id"]
    campaign_no = getattr(template, "_import_campaign_no", MISSING)
    if campaign_no is MISSING:
        campaign_no = campaign_nos.get(template.campaign_id) if template.campaign_id else None
    return (*values, campaign_no)

"""The set-up import's crm part: reference data (countries … salespeople, salutations, campaigns).

CONTRACT.md `import_setup` reads one JSON object of sections. This module plans and writes the
sections that are contact reference data; `interactions.setup_import` extends `SetupImport`
with the interaction groups and templates and is what the `import_setup` command runs.

Every object of a section is a record, checked by a `SetupRecord` (the shared
`crm.importing.RecordCheck`): problems name section, index (0-based) and field
(`countries[2].code: required`), all are collected, and nothing is written when there is one.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone

from .importing import BATCH_SIZE, ImportFailed, Problem, ProblemLog, RecordCheck, known_codes, short
from .models import (
    CODE_VALIDATOR,
    PHONE_VALIDATOR,
    BusinessRelation,
    Campaign,
    Country,
    IndustryGroup,
    JobResponsibility,
    Language,
    MailingGroup,
    Salesperson,
    Salutation,
    SalutationFormula,
    SalutationType,
    Territory,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

CODED_SECTIONS: dict[str, type[models.Model]] = {
    "countries": Country,
    "languages": Language,
    "territories": Territory,
    "industry_groups": IndustryGroup,
    "business_relations": BusinessRelation,
    "mailing_groups": MailingGroup,
    "job_responsibilities": JobResponsibility,
    "salespeople": Salesperson,
}
SALESPERSON_EXTRA = ("email", "phone", "job_title", "blocked")

MISSING = object()  # a key left out of an object: keep the current value

Write = Callable[[], None]


def max_length(model: type[models.Model], field: str) -> int:
    return model._meta.get_field(field).max_length


class SetupRecord(RecordCheck):
    """One object of a set-up section; problems are reported by path (`countries[2].code`).

    Each reader returns the checked value, or MISSING when the key is left out or its value
    was refused (the problem is then in the log).
    """

    def __init__(self, problems: ProblemLog, path: str, data: Any, allowed: Iterable[str]):
        super().__init__(problems, path=path)
        self.is_object = isinstance(data, dict)
        self.data = data if self.is_object else {}
        if not self.is_object:
            self.error(None, "expected an object")
            return
        for key in data:
            if key not in allowed:
                self.error(None, f'unknown field "{short(str(key))}"')

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, length: int, *, required: bool = False) -> Any:
        """A one-line string ('' for null)."""
        if key not in self.data:
            if required:
                self.error(key, "required")
            return MISSING
        value = self.data[key]
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.error(key, "expected a string")
            return MISSING
        value = value.strip()
        if required and not value:
            self.error(key, "required")
            return MISSING
        checked = self.check_text(key, value, length, line_breaks=None)
        return MISSING if checked is None else checked

    def code(self, key: str, length: int) -> Any:
        value = self.string(key, length, required=True)
        if value is MISSING:
            return MISSING
        try:
            CODE_VALIDATOR(value)
        except ValidationError as exc:
            self.error(key, f'"{value}": {exc.messages[0]}')
            return MISSING
        return value

    def reference(self, key: str, known: set[str], *, label: str = "code") -> Any:
        """A code the database or the file holds, or None for null."""
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.error(key, "expected a string or null")
            return MISSING
        checked = self.check_code(key, value, known, label=label)
        return MISSING if checked is None else checked

    def boolean(self, key: str) -> Any:
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, not {short(json.dumps(value))}")
            return MISSING
        return value

    def choice(self, key: str, choices: list[str], *, nullable: bool = True) -> Any:
        """One of `choices` ('' for null when `nullable`)."""
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if nullable and value in (None, ""):
            return ""
        if value not in choices:
            options = " or ".join([*choices, "null"] if nullable else choices)
            self.error(key, f"unknown value {short(json.dumps(value))} (use {options})")
            return MISSING
        return value

    def decimal(self, key: str, field: models.DecimalField) -> Any:
        """A number or decimal string, 0 or more, fitting the field."""
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.error(key, "expected a number or a decimal string")
            return MISSING
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.error(key, f"not a number {short(json.dumps(value))}")
            return MISSING
        whole_digits = field.max_digits - field.decimal_places
        step = Decimal(1).scaleb(-field.decimal_places)
        if not number.is_finite() or number < 0:
            self.error(key, "must be a number of 0 or more")
        elif number >= Decimal(10) ** whole_digits:
            self.error(key, f"at most {whole_digits} digits before the decimal point")
        elif number != number.quantize(step):
            self.error(key, f"at most {field.decimal_places} decimal places")
        else:
            return number.quantize(step)
        return MISSING

    def date(self, key: str) -> Any:
        """A YYYY-MM-DD date, or None for null."""
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None or value == "":
            return None
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.error(key, f"not a date {short(json.dumps(value))} (use YYYY-MM-DD)")
            return MISSING


def apply_values(obj: models.Model, values: dict[str, Any]) -> bool:
    """Set the values that were given (not MISSING) on `obj`; True when one differed."""
    changed = False
    for attname, value in values.items():
        if value is not MISSING and getattr(obj, attname) != value:
            setattr(obj, attname, value)
            changed = True
    return changed


def strings(items: list, key: str) -> list[str]:
    return [item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), str)]


def _formula_problem(text: str, exc: ValidationError) -> str:
    # The model's error names the placeholders through params it cannot apply to a
    # field-keyed error, so the names are listed here.
    unknown = sorted(set(re.findall(r"%([a-z_]+)", text)) - set(SalutationFormula.PLACEHOLDERS))
    if unknown:
        known = " ".join(f"%{name}" for name in SalutationFormula.PLACEHOLDERS)
        return f"unknown placeholder(s) {', '.join('%' + name for name in unknown)} (use {known})"
    return " ".join(exc.messages)


class SetupImport:
    """One run of a set-up import: every section is planned (checked) first, then written.

    A subclass adds sections: it extends SECTIONS, `references` (what the file may name) and
    `plan` (a write per section, in the order they must run). This class holds the crm sections.
    """

    SECTIONS: ClassVar[tuple[str, ...]] = (*CODED_SECTIONS, "salutations", "campaigns")

    def __init__(self, data: Any):
        self.data = data
        self.problems = ProblemLog()
        self.counts: dict[str, int] = {}

    @classmethod
    def apply(cls, data: Any, *, dry_run: bool = False) -> dict[str, int]:
        """Check and write `data` in one `transaction.atomic(durable=True)`; see `run`."""
        with transaction.atomic(durable=True):
            counts = cls(data).run()
            if dry_run:
                transaction.set_rollback(True)
            return counts

    def run(self) -> dict[str, int]:
        """Plan every section, raise ImportFailed with every problem, else write; the counts per section."""
        if not isinstance(self.data, dict):
            raise ImportFailed(["expected a JSON object whose keys are sections (countries, languages, …)"])
        for key in self.data:
            if key not in self.SECTIONS:
                self.problems.add(Problem(f'unknown section "{short(str(key))}"'))
        self.known = self.references()
        writes = self.plan()
        self.problems.raise_if_any()
        for write in writes:
            write()
        return self.counts

    def section(self, name: str) -> list:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            self.problems.add(Problem("expected a list", path=name))
            return []
        if name in self.data:
            self.counts[name] = len(value)
        return value

    def file_codes(self, name: str, key: str = "code") -> set[str]:
        items = self.data.get(name)
        return set(strings(items, key)) if isinstance(items, list) else set()

    def references(self) -> dict[str, set[str]]:
        """What a reference may name: what the database holds plus what the file adds, so the
        order of the sections in the file does not matter."""
        return {
            "languages": known_codes(Language) | self.file_codes("languages"),
            "salespeople": known_codes(Salesperson) | self.file_codes("salespeople"),
            "campaigns": set(Campaign.objects.values_list("no", flat=True)) | self.file_codes("campaigns", "no"),
        }

    def plan(self) -> list[Write]:
        writes = [self.plan_coded(name, model) for name, model in CODED_SECTIONS.items()]
        writes.append(self.plan_salutations())
        writes.append(self.plan_campaigns())
        return writes

    def record(self, path: str, data: Any, allowed: Iterable[str]) -> SetupRecord:
        return SetupRecord(self.problems, path, data, allowed)

    @staticmethod
    def duplicate(seen: dict[str, int], item: SetupRecord, key: str, value: Any, index: int) -> bool:
        if value is MISSING:
            return False
        if value in seen:
            item.error(key, f'"{value}" appears more than once (first at index {seen[value]})')
            return True
        seen[value] = index
        return False

    def plan_coded(self, name: str, model: type[models.Model], name_key: str = "name") -> Write:
        items = self.section(name)
        extra = SALESPERSON_EXTRA if model is Salesperson else ()
        existing = model.objects.in_bulk(strings(items, "code"))
        new, changed, seen = [], [], {}
        for index, data in enumerate(items):
            item = self.record(f"{name}[{index}]", data, ("code", name_key, *extra))
            if not item.is_object:
                continue
            code = item.code("code", model._meta.pk.max_length)
            values = {"name": item.string(name_key, max_length(model, "name"))}
            for key in ("email", "phone", "job_title"):
                if key in extra:
                    values[key] = item.string(key, max_length(model, key))
            if "blocked" in extra:
                values["blocked"] = item.boolean("blocked")
            for key, validator in (("email", validate_email), ("phone", PHONE_VALIDATOR)):
                if values.get(key) not in (None, MISSING, ""):
                    try:
                        validator(values[key])
                    except ValidationError as exc:
                        item.error(key, exc.messages[0])
            if self.duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            obj = existing.get(code)
            if obj is None:
                obj = model(pk=code)
                apply_values(obj, values)
                new.append(obj)
            elif apply_values(obj, values):
                changed.append(obj)
        fields = ["name", *extra]

        def write() -> None:
            model.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                model.objects.bulk_update(changed, fields, batch_size=BATCH_SIZE)

        return write

    def plan_salutations(self) -> Write:
        items = self.section("salutations")
        codes = strings(items, "code")
        existing = Salutation.objects.in_bulk(codes)
        formulas = {
            (f.salutation_id, f.language_id, f.type): f for f in SalutationFormula.objects.filter(salutation__in=codes)
        }
        new, changed, new_formulas, changed_formulas, seen = [], [], [], [], {}
        formula_length = max_length(SalutationFormula, "formula")
        for index, data in enumerate(items):
            path = f"salutations[{index}]"
            item = self.record(path, data, ("code", "description", "formulas"))
            if not item.is_object:
                continue
            code = item.code("code", Salutation._meta.pk.max_length)
            values = {"name": item.string("description", max_length(Salutation, "name"))}
            raw_formulas = item.data.get("formulas", [])
            if not isinstance(raw_formulas, list):
                item.error("formulas", "expected a list")
                raw_formulas = []
            planned, first_index = [], {}
            for f_index, f_data in enumerate(raw_formulas):
                f_item = self.record(f"{path}.formulas[{f_index}]", f_data, ("language", "type", "formula"))
                if not f_item.is_object:
                    item.ok = False
                    continue
                language = f_item.reference("language", self.known["languages"])
                kind = f_item.choice("type", SalutationType.values, nullable=False)
                if not f_item.has("type"):
                    f_item.error("type", "required (formal or informal)")
                text = f_item.string("formula", formula_length, required=True)
                if text is not MISSING:
                    try:
                        SalutationFormula(formula=text).clean()
                    except ValidationError as exc:
                        f_item.error("formula", _formula_problem(text, exc))
                language = None if language is MISSING else language
                if f_item.ok and (language, kind) in first_index:
                    f_item.error(
                        None,
                        f"a second {kind} formula for language {language or 'blank'} "
                        f"(first at index {first_index[(language, kind)]})",
                    )
                first_index.setdefault((language, kind), f_index)
                if not f_item.ok:
                    item.ok = False
                    continue
                planned.append((language, kind, text))
            if self.duplicate(seen, item, "code", code, index) or not item.ok:
                continue
            obj = existing.get(code)
            if obj is None:
                obj = Salutation(pk=code)
                apply_values(obj, values)
                new.append(obj)
            elif apply_values(obj, values):
                changed.append(obj)
            for language, kind, text in planned:
                formula = formulas.get((code, language, kind))
                if formula is None:
                    new_formulas.append(
                        SalutationFormula(salutation_id=code, language_id=language, type=kind, formula=text)
                    )
                elif formula.formula != text:
                    formula.formula = text
                    changed_formulas.append(formula)

        def write() -> None:
            Salutation.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                Salutation.objects.bulk_update(changed, ["name"], batch_size=BATCH_SIZE)
            SalutationFormula.objects.bulk_create(new_formulas, batch_size=BATCH_SIZE)
            if changed_formulas:
                SalutationFormula.objects.bulk_update(changed_formulas, ["formula"], batch_size=BATCH_SIZE)

        return write

    def plan_campaigns(self) -> Write:
        items = self.section("campaigns")
        existing = {c.no: c for c in Campaign.objects.filter(no__in=strings(items, "no"))}
        new, changed, seen = [], [], {}
        keys = ("no", "description", "starting_date", "ending_date", "salesperson")
        for index, data in enumerate(items):
            item = self.record(f"campaigns[{index}]", data, keys)
            if not item.is_object:
                continue
            no = item.string("no", max_length(Campaign, "no"), required=True)
            obj = existing.get(no) if no is not MISSING else None
            values = {
                "description": item.string(
                    "description", max_length(Campaign, "description"), required=obj is None or item.has("description")
                ),
                "starting_date": item.date("starting_date"),
                "ending_date": item.date("ending_date"),
                "salesperson_id": item.reference("salesperson", self.known["salespeople"]),
            }
            start = values["starting_date"]
            end = values["ending_date"]
            start = getattr(obj, "starting_date", None) if start is MISSING else start
            end = getattr(obj, "ending_date", None) if end is MISSING else end
            if item.ok and start and end and start > end:
                item.error("ending_date", f"{end.isoformat()} is before the starting date {start.isoformat()}")
            if self.duplicate(seen, item, "no", no, index) or not item.ok:
                continue
            if obj is None:
                obj = Campaign(no=no)
                apply_values(obj, values)
                new.append(obj)
            elif apply_values(obj, values):
                obj.updated_at = timezone.now()
                changed.append(obj)

        def write() -> None:
            Campaign.objects.bulk_create(new, batch_size=BATCH_SIZE)
            if changed:
                fields = ["description", "starting_date", "ending_date", "salesperson", "updated_at"]
                Campaign.objects.bulk_update(changed, fields, batch_size=BATCH_SIZE)

        return write

"""Segment editing against a pure-Python model of SPEC F3 (RELIABILITY 6).

A hypothesis state machine builds a small random contact set (companies with persons,
private persons, some excluded, a few cities and mailing groups), then applies random add
(with random options and filters), reduce, refine (with or without Entire Companies), manual
lines, line removals, line edits, undo and Log to one segment. After every step the lines in the
database (contact, line no., the step that added them, description) must equal the model's.

Log (segments.services.segment_log) turns the lines into interaction log entries: each entry
must carry the values of the line it was logged from (contact and every copied field, R47), for
every logged segment after every later step, and undo (any segment write) on a logged segment
is refused with SegmentAlreadyLogged. The machine then goes on with the follow-up segment (R50:
one line per entry, from one undoable "reuse logged" step) or with a fresh segment.

The model implements the rules directly from their wording, in plain Python over the contact
data: R18 (filters ANDed across names, ORed within one), R20 (options, expansion by Company
No.), R21 (order and numbering), R24–R26 with D4 (reduce/refine, Entire Companies on the
current company), R28/R29 (manual lines) and D3 (exact undo).

Each example runs inside a savepoint of the test's transaction and is rolled back afterwards,
so examples never see each other's rows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crm.models import Contact, ContactMailingGroup, ContactType, CorrespondenceType, MailingGroup
from crm.permissions import COMMAND_LINE
from interactions.models import InteractionLogEntry
from segments import services
from segments.models import SegmentLine, StepAction
from segments.services import log as log_services
from tests.factories import make_salesperson, make_template

CITIES = ("AMS", "BRU", "CGN")
GROUPS = ("M1", "M2")
NAMES = ("ADA", "BEN", "CID", "DEE")  # few names, so ties happen and the order's later keys matter
STEP = 10_000

EXAMPLES = 200

# What a line hands to its interaction log entry, field for field (R47).
COPIED_FIELDS = (
    "contact_id",
    "date",
    "description",
    "subject",
    "information_flow",
    "initiated_by",
    "cost",
    "duration",
    "interaction_template_id",
    "interaction_group_id",
    "language_id",
    "salesperson_id",
    "campaign_id",
    "campaign_target",
    "campaign_response",
    "evaluation",
    "alt_address_id",
    "send_as_attachment",
    "personal_text",
)


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelContact:
    id: int
    no: str
    type: str
    company: int | None
    name: str
    city: str
    groups: frozenset[str]
    excluded: bool


@dataclass
class ModelLine:
    contact: int
    line_no: int
    step: int
    description: str = ""


@dataclass
class ModelStep:
    position: int
    added: list[ModelLine] = field(default_factory=list)
    removed: list[ModelLine] = field(default_factory=list)


class Model:
    def __init__(self, contacts: dict[int, ModelContact], description: str):
        self.contacts = contacts
        self.description = description
        self.lines: list[ModelLine] = []
        self.steps: list[ModelStep] = []
        self.positions = 0

    # -- facts about contacts
    def company_no(self, c: ModelContact) -> str | None:
        if c.type == ContactType.COMPANY:
            return c.no
        return self.contacts[c.company].no if c.company else None

    def company_name(self, c: ModelContact) -> str:
        if c.type == ContactType.COMPANY:
            return c.name
        return self.contacts[c.company].name if c.company else ""

    @staticmethod
    def matches(c: ModelContact, criteria: dict[str, list[str]]) -> bool:
        """R18: every name given must hold; several values of one name: any of them."""
        tests = {
            "city": lambda values: c.city in values,
            "type": lambda values: c.type in values,
            "mailing_group": lambda values: bool(c.groups & set(values)),
            "no": lambda values: c.no in values,
        }
        return all(tests[name](values) for name, values in criteria.items())

    # -- steps
    def _new_step(self) -> ModelStep:
        self.positions += 1
        step = ModelStep(self.positions)
        self.steps.append(step)
        return step

    def _next_line_no(self) -> int:
        used = [line.line_no for line in self.lines]
        used += [line.line_no for step in self.steps for line in step.removed]
        return max(used, default=0)

    def _insert(self, step: ModelStep, contacts: list[ModelContact]) -> None:
        base = self._next_line_no()
        for index, c in enumerate(contacts, start=1):
            line = ModelLine(c.id, base + index * STEP, step.position, self.description)
            self.lines.append(line)
            step.added.append(line)

    def add(self, criteria, *, allow_existing, expand_contact, allow_company_with_persons, ignore_exclusion) -> int:
        qualifying = [c for c in self.contacts.values() if self.matches(c, criteria)]
        chosen = {c.id for c in qualifying}
        if expand_contact:
            companies = {self.company_no(c) for c in qualifying if self.company_no(c)}
            chosen = {c.id for c in qualifying if not self.company_no(c)}
            chosen |= {d.id for d in self.contacts.values() if self.company_no(d) in companies}
        if allow_company_with_persons:
            chosen |= {
                self.contacts[i].company
                for i in list(chosen)
                if self.contacts[i].type == ContactType.PERSON and self.contacts[i].company
            }
        if not ignore_exclusion:
            chosen = {i for i in chosen if not self.contacts[i].excluded}
        if not allow_existing:
            chosen -= {line.contact for line in self.lines}
        ordered = sorted(
            (self.contacts[i] for i in chosen),
            key=lambda c: (self.company_name(c), self.company_no(c) or "", c.type != ContactType.COMPANY, c.name, c.id),
        )
        self._insert(self._new_step(), ordered)
        return len(ordered)

    def line_matches(self, line: ModelLine, criteria, entire_companies: bool) -> bool:
        contact = self.contacts[line.contact]
        company = self.company_no(contact)
        if not entire_companies or company is None:
            return self.matches(contact, criteria)
        return any(self.matches(d, criteria) for d in self.contacts.values() if self.company_no(d) == company)

    def remove(self, criteria, *, refine: bool, entire_companies: bool) -> int:
        step = self._new_step()
        gone = [line for line in self.lines if self.line_matches(line, criteria, entire_companies) != refine]
        return self._remove(step, gone)

    def _remove(self, step: ModelStep, gone: list[ModelLine]) -> int:
        for line in gone:
            self.lines.remove(line)
            step.removed.append(line)
        return len(gone)

    def add_contact(self, contact_id: int) -> None:
        self._insert(self._new_step(), [self.contacts[contact_id]])

    def remove_line(self, line_no: int) -> None:
        self._remove(self._new_step(), [line for line in self.lines if line.line_no == line_no])

    def undo(self) -> None:
        step = self.steps.pop()
        self.lines = [line for line in self.lines if line.step != step.position] + step.removed
        # positions are given from the highest one still recorded
        self.positions = self.steps[-1].position if self.steps else 0

    def edit(self, line_no: int, description: str) -> None:
        for line in self.lines:
            if line.line_no == line_no:
                line.description = description

    def state(self) -> list[tuple]:
        return sorted((line.line_no, line.contact, line.step, line.description) for line in self.lines)


# --- strategies ---------------------------------------------------------------------------------

contact_traits = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(CITIES),
    st.frozensets(st.sampled_from(GROUPS)),
    st.sampled_from([False, False, True]),  # some contacts are excluded
)
criteria = st.fixed_dictionaries(
    {},
    optional={
        "city": st.lists(st.sampled_from(CITIES), min_size=1, max_size=2, unique=True),
        "mailing_group": st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2, unique=True),
        "type": st.lists(st.sampled_from([ContactType.COMPANY, ContactType.PERSON]), min_size=1, max_size=1),
    },
)


def as_query(criteria: dict[str, list[str]]) -> str:
    return urlencode([(name, value) for name, values in criteria.items() for value in values])


# --- the machine --------------------------------------------------------------------------------


class SegmentMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint_create()
        self.model: Model | None = None
        # (the segment as it was, its logged segment's id, entry values by segment line id)
        self.logged: list[tuple[object, int, dict[int, tuple]]] = []

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    @initialize(
        companies=st.lists(st.tuples(contact_traits, st.lists(contact_traits, max_size=3)), min_size=0, max_size=3),
        private=st.lists(contact_traits, max_size=3),
    )
    def build(self, companies, private):
        MailingGroup.objects.bulk_create([MailingGroup(code=code) for code in GROUPS], ignore_conflicts=True)
        numbers = (f"N{n:03d}" for n in range(1, 1000))

        def new(traits, type_, company=None) -> Contact:
            name, city, _groups, excluded = traits
            return Contact(
                no=next(numbers), type=type_, company=company, name=name, city=city, exclude_from_segment=excluded
            )

        company_rows = Contact.objects.bulk_create(new(traits, ContactType.COMPANY) for traits, _ in companies)
        created = list(zip(company_rows, [traits for traits, _ in companies], strict=True))
        persons = [
            (new(t, ContactType.PERSON, row), t)
            for row, (_, ts) in zip(company_rows, companies, strict=True)
            for t in ts
        ]
        persons += [(new(traits, ContactType.PERSON), traits) for traits in private]
        Contact.objects.bulk_create(contact for contact, _ in persons)
        created += persons
        ContactMailingGroup.objects.bulk_create(
            ContactMailingGroup(contact=contact, mailing_group_id=code)
            for contact, traits in created
            for code in traits[2]
        )
        contacts = {
            c.id: ModelContact(
                c.id, c.no, c.type, c.company_id, c.name, c.city, frozenset(t[2]), c.exclude_from_segment
            )
            for c, t in created
        }
        # a template and a salesperson on the header, so that every segment can be logged
        self.loggable = {
            "interaction_template": make_template(correspondence_type=""),
            "salesperson": make_salesperson(),
        }
        self.segment = services.segment_create(user=COMMAND_LINE, values={"description": "Model", **self.loggable})
        self.model = Model(contacts, "Model")

    # -- rules
    @rule(
        where=criteria,
        allow_existing=st.booleans(),
        expand_contact=st.booleans(),
        allow_company_with_persons=st.booleans(),
        ignore_exclusion=st.booleans(),
    )
    def add(self, where, **options):
        preview = services.segment_count(segment=self.segment, action=StepAction.ADD, query=as_query(where), **options)
        result = services.segment_add_contacts(
            user=COMMAND_LINE, segment=self.segment, query=as_query(where), **options
        )
        expected = self.model.add(where, **options)
        assert preview == result.added == expected

    @rule(where=criteria, refine=st.booleans(), entire_companies=st.booleans())
    def remove(self, where, refine, entire_companies):
        action = StepAction.REFINE if refine else StepAction.REDUCE
        if not where:  # a reduce or refine needs a criterion; nothing is written
            with pytest.raises(ValidationError, match="choose at least one criterion"):
                services.segment_count(segment=self.segment, action=action, query="")
            with pytest.raises(ValidationError, match="choose at least one criterion"):
                services.segment_remove_contacts(user=COMMAND_LINE, segment=self.segment, action=action, query="")
            return
        preview = services.segment_count(
            segment=self.segment, action=action, query=as_query(where), entire_companies=entire_companies
        )
        result = services.segment_remove_contacts(
            user=COMMAND_LINE,
            segment=self.segment,
            action=action,
            query=as_query(where),
            entire_companies=entire_companies,
        )
        expected = self.model.remove(where, refine=refine, entire_companies=entire_companies)
        assert preview == result.removed == expected

    @precondition(lambda self: self.model and self.model.contacts)
    @rule(data=st.data())
    def add_contact(self, data):
        contact_id = data.draw(st.sampled_from(sorted(self.model.contacts)))
        allow_existing = data.draw(st.booleans())
        contact = Contact.objects.get(pk=contact_id)
        if not allow_existing and any(line.contact == contact_id for line in self.model.lines):
            with pytest.raises(ValidationError, match="is already on line"):
                services.segment_add_contact(user=COMMAND_LINE, segment=self.segment, contact=contact)
            return
        services.segment_add_contact(
            user=COMMAND_LINE, segment=self.segment, contact=contact, allow_existing=allow_existing
        )
        self.model.add_contact(contact_id)

    @precondition(lambda self: self.model and self.model.lines)
    @rule(data=st.data())
    def remove_line(self, data):
        line_no = data.draw(st.sampled_from(sorted(line.line_no for line in self.model.lines)))
        services.segment_remove_line(user=COMMAND_LINE, segment=self.segment, line_no=line_no)
        self.model.remove_line(line_no)

    @precondition(lambda self: self.model and self.model.lines)
    @rule(data=st.data(), text=st.sampled_from(["Call first", "VIP", "Second try"]))
    def edit_line(self, data, text):
        line_no = data.draw(st.sampled_from(sorted(line.line_no for line in self.model.lines)))
        services.segment_set_line(
            user=COMMAND_LINE, segment=self.segment, line_no=line_no, values={"description": text}
        )
        self.model.edit(line_no, text)

    @precondition(lambda self: self.model is not None)
    @rule()
    def undo(self):
        if not self.model.steps:
            with pytest.raises(ValidationError):
                services.segment_undo(user=COMMAND_LINE, segment=self.segment)
            return
        result = services.segment_undo(user=COMMAND_LINE, segment=self.segment)
        self.model.undo()
        assert result.line_count == len(self.model.lines)

    @precondition(lambda self: self.model and self.model.lines)
    @rule(follow_up=st.booleans())
    def log(self, follow_up):
        lines = SegmentLine.objects.filter(segment=self.segment)
        expected = {row["id"]: entry_values(row) for row in lines.values("id", *line_fields())}
        assert sorted((values[0], values[2]) for values in expected.values()) == sorted(
            (line.contact, line.description) for line in self.model.lines
        )

        result = log_services.segment_log(user=COMMAND_LINE, segment=self.segment, follow_up=follow_up)

        assert result.entries == len(self.model.lines) == len(expected)
        assert logged_entries(result.logged_segment.pk) == expected
        assert not SegmentLine.objects.filter(segment_id=self.segment.pk).exists()
        self.logged.append((self.segment, result.logged_segment.pk, expected))
        if follow_up:
            self._continue_with_follow_up(result, expected)
        else:
            self.segment = services.segment_create(user=COMMAND_LINE, values={"description": "Model", **self.loggable})
            self.model = Model(self.model.contacts, "Model")

    def _continue_with_follow_up(self, result, logged: dict[int, tuple]) -> None:
        """R50: the follow-up has one line per entry, from one "reuse logged" step; the machine
        goes on with it (after giving it a template and salesperson, which R50 leaves blank)."""
        follow_up = result.follow_up
        assert follow_up.description == f"Follow-up on segment {self.segment.no}"
        assert follow_up.interaction_template_id is None
        self.segment = services.segment_update(user=COMMAND_LINE, segment=follow_up, values=self.loggable)
        rows = list(
            SegmentLine.objects.filter(segment=follow_up).values_list(
                "line_no", "contact_id", "step__position", "description"
            )
        )
        assert sorted(row[1] for row in rows) == sorted(values[0] for values in logged.values())
        assert {row[3] for row in rows} == {follow_up.description}
        model = Model(self.model.contacts, follow_up.description)
        step = model._new_step()
        model.lines = [
            ModelLine(contact, line_no, position, description) for line_no, contact, position, description in rows
        ]
        assert {line.step for line in model.lines} == {step.position}
        step.added = list(model.lines)
        self.model = model

    # -- after every step
    @invariant()
    def logged_segments_stay_logged(self):
        """Entries keep their lines' values; undo of a logged segment is refused."""
        for segment, logged_id, expected in self.logged:
            assert logged_entries(logged_id) == expected
            with pytest.raises(services.SegmentAlreadyLogged) as refused:
                services.segment_undo(user=COMMAND_LINE, segment=segment)
            assert refused.value.logged_segment.pk == logged_id
            assert refused.value.messages[0].startswith(f"Segment {segment.no} was already logged by ")

    @invariant()
    def lines_equal_the_model(self):
        if self.model is None:
            return
        rows = SegmentLine.objects.filter(segment=self.segment).values_list(
            "line_no", "contact_id", "step__position", "description"
        )
        assert sorted(rows) == self.model.state()
        positions = [step.position for step in self.model.steps]
        recorded = list(self.segment.steps.filter(parent=None).order_by("position").values_list("position", flat=True))
        assert recorded == positions


def line_fields() -> list[str]:
    return [field for field in COPIED_FIELDS if field != "contact_id"] + ["contact_id", "correspondence_type"]


def entry_values(row: dict) -> tuple:
    """What the entry of a line (a `values()` row) must hold: contact, its line's fields, and the
    correspondence type after R43 (these contacts have no e-mail, so an e-mail line has none)."""
    correspondence = "" if row["correspondence_type"] == CorrespondenceType.EMAIL else row["correspondence_type"]
    return (
        row["contact_id"],
        *(row[field] for field in COPIED_FIELDS if field != "contact_id"),
        correspondence,
    )


def logged_entries(logged_id: int) -> dict[int, tuple]:
    """Entry values of a logged segment by the line they were logged from (same order as above)."""
    rows = InteractionLogEntry.objects.filter(logged_segment_id=logged_id).values("segment_line_id", *line_fields())
    return {row["segment_line_id"]: entry_values_of_entry(row) for row in rows}


def entry_values_of_entry(row: dict) -> tuple:
    return (
        row["contact_id"],
        *(row[field] for field in COPIED_FIELDS if field != "contact_id"),
        row["correspondence_type"],
    )


@pytest.mark.django_db
def test_segment_steps_match_the_model():
    run_state_machine_as_test(
        SegmentMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_model_itself_follows_the_rules_on_a_worked_example():
    """A sanity check of the model against SPEC's wording, independent of the database."""
    contacts = {
        1: ModelContact(1, "C1", "company", None, "ACME", "AMS", frozenset(), False),
        2: ModelContact(2, "P1", "person", 1, "ANN", "BRU", frozenset({"M1"}), False),
        3: ModelContact(3, "P2", "person", 1, "BOB", "AMS", frozenset(), True),
        4: ModelContact(4, "P3", "person", None, "SOLO", "BRU", frozenset({"M1"}), False),
    }
    model = Model(copy.deepcopy(contacts), "D")
    options = dict(allow_existing=False, allow_company_with_persons=False, ignore_exclusion=False)

    assert model.add({"mailing_group": ["M1"]}, expand_contact=True, **options) == 3
    assert [(line.contact, line.line_no) for line in model.lines] == [(4, 10000), (1, 20000), (2, 30000)]
    assert model.remove({"no": ["P2"]}, refine=False, entire_companies=True) == 2
    assert [line.contact for line in model.lines] == [4]
    model.undo()
    assert model.state() == [(10000, 4, 1, "D"), (20000, 1, 1, "D"), (30000, 2, 1, "D")]

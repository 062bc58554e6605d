"""Every service that writes refuses a user without its permission, and writes nothing.

One row per service (a few services have a row per kind of call): it is called by a Viewer
(who may read everything and change nothing) and must raise PermissionDenied with the database
exactly as it was (every row of every model of crm, interactions and segments, and the auth
tables) and nothing enqueued after the commit. The same call made by the command line
(COMMAND_LINE) then does write or enqueue something, so each row's "nothing written" is about
a call that really writes.

The table is complete by construction: `test_every_service_with_an_actor_has_a_row` walks the
modules of the three apps and fails for a public function taking a `user` that has no row here
and is not listed in NOT_SERVICES with its reason.
"""

from __future__ import annotations

import ast
import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from crm import consent, transfer
from crm import services as crm_services
from crm.models import Contact, CorrespondenceType, MailingGroup
from crm.permissions import COMMAND_LINE
from interactions import delivery, documents, print_pdf, setup_import
from interactions import services as interaction_services
from interactions.models import Delivery, DeliveryStatus, Evaluation, InteractionLogEntry
from segments import documents as segment_documents
from segments import log_jobs, merge
from segments.models import MergeJob, MergeOutput, MergeState, SegmentLine, StepAction
from segments.services import drift, worksheet
from segments.services import log as log_services
from tests.conftest import make_user
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)
from tests.interactions.docx_builders import docx_bytes
from tests.pdf_tools import require_libreoffice

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parent.parent
APPS = ("crm", "interactions", "segments")
QUEUE = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}

# Public functions that take a `user` but are not services a caller starts a write with.
NOT_SERVICES = {
    # dispatch to interactions.services.contacts_anonymise (a row of the table)
    "crm.hooks.contacts_anonymise": "a hook: the service it calls has a row",
    # dispatch to segments.services.log.logged_segment_follow_up (a row of the table)
    "interactions.hooks.logged_segment_follow_up": "a hook: the service it calls has a row",
    # joins the transaction of segment_reuse_logged / the follow-up, after their check
    "segments.services.worksheet.reuse_logged_lines": "a step inside a service's transaction",
    # history rows for states its caller (the contact import, a row of the table) has written
    "crm.consent.record_bulk_changes": "a step inside a service's transaction",
    # sends one e-mail to the user and writes nothing; its refusal of a viewer is tested in
    # tests/segments/test_send_test_mail.py
    "segments.services.test_mail.segment_line_test_mail": "writes nothing: a test e-mail to the user",
    # a read: the start page's sections, each shown only with its permission (tests/segments/test_start_page.py)
    "segments.page_selectors.start_page": "writes nothing: reads what the user may see",
    # refuses a viewer and writes nothing then: tests/segments/test_segment_delete.py
    "segments.services.delete.segment_delete": "tested in tests/segments/test_segment_delete.py",
    # a user's own page settings (which worksheet panels are open), nobody else's data
    "crm.preferences.preferences_of": "reads the user's own page settings",
    "crm.preferences.set_preference": "keeps the user's own page setting",
    # a user's own profile (language, test e-mail address): every signed-in user keeps their own
    "crm.profile.save_profile": "keeps the user's own profile (tests/i18n/test_language_choice.py)",
    "crm.profile.profile_initial": "reads the user's own profile",
    "crm.languages.own_language": "reads the user's own language",
    "crm.languages.test_email_address": "reads the user's own test e-mail address",
}


class World:
    """What the services act on, each piece made (by the command line) when a row first asks."""

    @cached_property
    def viewer(self):
        return make_user("viewer")

    @cached_property
    def language(self):
        return make_language("EN")

    @cached_property
    def template(self):
        template = make_template("LETTER", language=self.language, correspondence_type="")
        attach_word_template(template, "Dear {{ contact.name }}")
        return template

    @cached_property
    def company(self) -> Contact:
        salesperson = make_salesperson("ANN")
        company = make_company(no="C1", name="Acme", email="info@acme.test", salesperson=salesperson)
        for i in range(2):
            make_person(company, no=f"P{i}", email=f"p{i}@acme.test", salesperson=salesperson)
        return company

    @cached_property
    def person(self) -> Contact:
        return Contact.objects.get(no="P0", company=self.company)

    @cached_property
    def loner(self) -> Contact:
        return make_company(no="L1", name="Loner", salesperson=make_salesperson("BOB"))

    def segment_of(self, description: str, **values):
        segment = worksheet.segment_create(
            user=COMMAND_LINE,
            values={"description": description, "interaction_template": self.template, **values},
        )
        worksheet.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"company_no={self.company.no}")
        return segment

    @cached_property
    def segment(self):
        return self.segment_of("Spring mailing")

    @cached_property
    def withdrawn_segment(self):
        """E-mail lines, one of whose contacts then withdrew e-mail consent."""
        segment = self.segment_of(
            "Withdrawn", correspondence_type=CorrespondenceType.EMAIL, ignore_contact_correspondence_type=True
        )
        consent.contact_set_consent(
            actor=COMMAND_LINE, contact=self.person, states={"email": "withdrawn"}, source="call"
        )
        return segment

    @cached_property
    def line_no(self) -> int:
        return SegmentLine.objects.filter(segment=self.segment).order_by("line_no").values_list("line_no", flat=True)[0]

    @cached_property
    def saved_criteria(self) -> str:
        worksheet.segment_save_criteria(user=COMMAND_LINE, segment=self.segment_of("Saved"), code="SAVED")
        return "SAVED"

    def logged_of(self, description: str, **values):
        segment = self.segment_of(
            description,
            correspondence_type=CorrespondenceType.EMAIL,
            ignore_contact_correspondence_type=True,
            subject="Spring offer",
            **values,
        )
        return log_services.segment_log(user=COMMAND_LINE, segment=segment, deliver=True).logged_segment

    @cached_property
    def logged(self):
        """Logged with delivery: its e-mail entries wait in progress, no delivery started yet."""
        return self.logged_of("Logged")

    @cached_property
    def entry(self) -> InteractionLogEntry:
        return InteractionLogEntry.objects.filter(logged_segment=self.logged).order_by("pk").first()

    @cached_property
    def canceled_entry(self) -> InteractionLogEntry:
        interaction_services.interactions_set_canceled(user=COMMAND_LINE, entry_nos=[self.entry.pk], canceled=True)
        return self.entry

    @cached_property
    def canceled_logged(self):
        logged = self.logged_of("Canceled")
        interaction_services.logged_segment_set_canceled(user=COMMAND_LINE, ids=[logged.pk], canceled=True)
        return logged

    @cached_property
    def resendable(self):
        """Logged, its e-mail entries ended in an error and no delivery is under way."""
        logged = self.logged_of("In error")
        InteractionLogEntry.objects.filter(logged_segment=logged).update(
            delivery_status=DeliveryStatus.ERROR, delivery_error="mailbox full"
        )
        return logged

    @cached_property
    def queued_delivery(self) -> Delivery:
        """A delivery whose task was lost: queued long ago."""
        delivery_ = delivery.delivery_start(user=COMMAND_LINE, logged_segment=self.logged_of("Queued"))
        Delivery.objects.filter(pk=delivery_.pk).update(created_at=timezone.now() - datetime.timedelta(days=1))
        return delivery_

    @cached_property
    def printed_delivery(self) -> Delivery:
        """A finished delivery with a print file whose PDF is not made."""
        delivery_ = delivery.delivery_start(user=COMMAND_LINE, logged_segment=self.logged_of("Printed"))
        letters = documents.document_create(data=docx_bytes("Dear Acme"), file_name="letters.docx")
        Delivery.objects.filter(pk=delivery_.pk).update(state="finished", print_document=letters, printed=1)
        return delivery_

    @cached_property
    def stalled_merge(self) -> MergeJob:
        return MergeJob.objects.create(
            segment=self.segment,
            segment_no=self.segment.no,
            output=MergeOutput.DOCX,
            total=SegmentLine.objects.filter(segment=self.segment).count(),
            state=MergeState.RUNNING,
            heartbeat_at=timezone.now() - datetime.timedelta(hours=1),
        )


@dataclass(frozen=True)
class Case:
    service: Callable
    call: Callable[[World, object], object]  # (world, actor) -> the service's result
    prepare: Callable[[World], object] = lambda w: None  # make what the call needs first


def cases() -> dict[str, Case]:
    s = worksheet
    i = interaction_services
    return {
        # crm
        "contact create": Case(
            crm_services.contact_create,
            lambda w, u: crm_services.contact_create(user=u, data={"type": "company", "name": "New"}),
        ),
        "contact update": Case(
            crm_services.contact_update,
            lambda w, u: crm_services.contact_update(user=u, contact=w.company, data={"name": "Changed"}),
            lambda w: w.company,
        ),
        "contact delete": Case(
            crm_services.contact_delete,
            lambda w, u: crm_services.contact_delete(user=u, contact=w.loner),
            lambda w: w.loner,
        ),
        "contact consent": Case(
            consent.contact_set_consent,
            lambda w, u: consent.contact_set_consent(
                actor=u, contact=w.company, states={"email": "withdrawn"}, source="phone call"
            ),
            lambda w: w.company,
        ),
        "contacts set mailing group": Case(
            crm_services.contacts_set_mailing_group,
            lambda w, u: crm_services.contacts_set_mailing_group(
                user=u, contacts=Contact.objects.filter(pk=w.company.pk), mailing_group="PERM"
            ),
            lambda w: (w.company, MailingGroup.objects.get_or_create(code="PERM")[0]),
        ),
        "contact import": Case(
            transfer.contacts_import_csv,
            lambda w, u: transfer.contacts_import_csv(user=u, data=b"no,type,name\nN1,company,New\n"),
        ),
        "set-up import": Case(
            setup_import.setup_import,
            lambda w, u: setup_import.setup_import(user=u, data={"countries": [{"code": "ZZ", "name": "Zed"}]}),
        ),
        "contact anonymise": Case(
            i.contact_anonymise, lambda w, u: i.contact_anonymise(user=u, contact=w.person), lambda w: w.person
        ),
        "contacts anonymise": Case(
            i.contacts_anonymise,
            lambda w, u: i.contacts_anonymise(user=u, contacts=Contact.objects.filter(pk=w.person.pk)),
            lambda w: w.person,
        ),
        # segments: the worksheet
        "segment create": Case(s.segment_create, lambda w, u: s.segment_create(user=u, values={"description": "New"})),
        "segment update": Case(
            s.segment_update,
            lambda w, u: s.segment_update(user=u, segment=w.segment, values={"description": "Changed"}),
            lambda w: w.segment,
        ),
        "segment add": Case(
            s.segment_add_contacts,
            lambda w, u: s.segment_add_contacts(user=u, segment=w.segment, query=f"no={w.loner.no}"),
            lambda w: (w.segment, w.loner),
        ),
        "segment reduce": Case(
            s.segment_remove_contacts,
            lambda w, u: s.segment_remove_contacts(
                user=u, segment=w.segment, action=StepAction.REDUCE, query=f"no={w.person.no}"
            ),
            lambda w: w.segment,
        ),
        "segment refine": Case(
            s.segment_remove_contacts,
            lambda w, u: s.segment_remove_contacts(
                user=u, segment=w.segment, action=StepAction.REFINE, query=f"no={w.person.no}"
            ),
            lambda w: w.segment,
        ),
        "segment add contact": Case(
            s.segment_add_contact,
            lambda w, u: s.segment_add_contact(user=u, segment=w.segment, contact=w.loner),
            lambda w: (w.segment, w.loner),
        ),
        "segment remove line": Case(
            s.segment_remove_line,
            lambda w, u: s.segment_remove_line(user=u, segment=w.segment, line_no=w.line_no),
            lambda w: w.line_no,
        ),
        "segment drop withdrawn": Case(
            s.segment_drop_withdrawn,
            lambda w, u: s.segment_drop_withdrawn(user=u, segment=w.withdrawn_segment),
            lambda w: w.withdrawn_segment,
        ),
        "segment refresh": Case(
            drift.segment_refresh,
            lambda w, u: drift.segment_refresh(user=u, segment=w.withdrawn_segment),
            lambda w: w.withdrawn_segment,
        ),
        "segment undo": Case(
            s.segment_undo, lambda w, u: s.segment_undo(user=u, segment=w.segment), lambda w: w.segment
        ),
        "segment set line": Case(
            s.segment_set_line,
            lambda w, u: s.segment_set_line(
                user=u, segment=w.segment, line_no=w.line_no, values={"description": "By hand"}
            ),
            lambda w: w.line_no,
        ),
        "segment save criteria": Case(
            s.segment_save_criteria,
            lambda w, u: s.segment_save_criteria(user=u, segment=w.segment, code="NEW"),
            lambda w: w.segment,
        ),
        "segment reuse criteria": Case(
            s.segment_reuse_criteria,
            lambda w, u: s.segment_reuse_criteria(user=u, segment=w.segment, code=w.saved_criteria),
            lambda w: (w.segment, w.saved_criteria),
        ),
        "segment reuse logged": Case(
            s.segment_reuse_logged,
            lambda w, u: s.segment_reuse_logged(user=u, segment=w.segment, logged_segment_id=w.logged.pk),
            lambda w: (w.segment, w.logged),
        ),
        "segment language document": Case(
            segment_documents.segment_language_document_set,
            lambda w, u: segment_documents.segment_language_document_set(
                user=u, segment=w.segment, language=w.language, data=docx_bytes("Own"), file_name="own.docx"
            ),
            lambda w: w.segment,
        ),
        "segment line document": Case(
            segment_documents.segment_line_document_set,
            lambda w, u: segment_documents.segment_line_document_set(
                user=u, segment=w.segment, line_no=w.line_no, data=docx_bytes("Own"), file_name="own.docx"
            ),
            lambda w: w.line_no,
        ),
        "segment log": Case(
            log_services.segment_log,
            lambda w, u: log_services.segment_log(user=u, segment=w.segment),
            lambda w: w.segment,
        ),
        "merge start": Case(
            merge.merge_job_start,
            lambda w, u: merge.merge_job_start(user=u, segment=w.segment, output=MergeOutput.DOCX),
            lambda w: w.segment,
        ),
        "merge restart": Case(
            merge.merge_job_restart,
            lambda w, u: merge.merge_job_restart(user=u, job_id=w.stalled_merge.pk),
            lambda w: w.stalled_merge,
        ),
        "log job start": Case(
            log_jobs.log_job_start,
            lambda w, u: log_jobs.log_job_start(user=u, segment=w.segment),
            lambda w: w.segment,
        ),
        # interactions: logged segments
        "logged segment cancel": Case(
            i.logged_segment_set_canceled,
            lambda w, u: i.logged_segment_set_canceled(user=u, ids=[w.logged.pk], canceled=True),
            lambda w: w.logged,
        ),
        "logged segment uncancel": Case(
            i.logged_segment_set_canceled,
            lambda w, u: i.logged_segment_set_canceled(user=u, ids=[w.canceled_logged.pk], canceled=False),
            lambda w: w.canceled_logged,
        ),
        "logged segment delete": Case(
            i.logged_segment_delete,
            lambda w, u: i.logged_segment_delete(user=u, logged_segment_id=w.canceled_logged.pk),
            lambda w: w.canceled_logged,
        ),
        "logged segment follow-up": Case(
            log_services.logged_segment_follow_up,
            lambda w, u: log_services.logged_segment_follow_up(user=u, logged_segment_id=w.logged.pk),
            lambda w: w.logged,
        ),
        "delivery start": Case(
            delivery.delivery_start,
            lambda w, u: delivery.delivery_start(user=u, logged_segment=w.logged),
            lambda w: w.logged,
        ),
        "delivery resend": Case(
            delivery.delivery_resend,
            lambda w, u: delivery.delivery_resend(user=u, logged_segment_id=w.resendable.pk),
            lambda w: w.resendable,
        ),
        "delivery resume": Case(
            delivery.delivery_resume,
            lambda w, u: delivery.delivery_resume(user=u, delivery_id=w.queued_delivery.pk),
            lambda w: w.queued_delivery,
        ),
        "print file pdf": Case(
            print_pdf.print_pdf_request,
            lambda w, u: print_pdf.print_pdf_request(user=u, delivery_id=w.printed_delivery.pk),
            lambda w: (require_libreoffice(), w.printed_delivery),
        ),
        # interactions: entries
        "interactions cancel": Case(
            i.interactions_set_canceled,
            lambda w, u: i.interactions_set_canceled(user=u, entry_nos=[w.entry.pk], canceled=True),
            lambda w: w.entry,
        ),
        "interactions uncancel": Case(
            i.interactions_set_canceled,
            lambda w, u: i.interactions_set_canceled(user=u, entry_nos=[w.canceled_entry.pk], canceled=False),
            lambda w: w.canceled_entry,
        ),
        "interactions evaluate": Case(
            i.interactions_evaluate,
            lambda w, u: i.interactions_evaluate(user=u, entry_nos=[w.entry.pk], evaluation=Evaluation.POSITIVE),
            lambda w: w.entry,
        ),
        "interactions delete canceled": Case(
            i.interactions_delete_canceled,
            lambda w, u: i.interactions_delete_canceled(
                user=u, entries=InteractionLogEntry.objects.filter(pk=w.canceled_entry.pk)
            ),
            lambda w: w.canceled_entry,
        ),
        "interaction comment": Case(
            i.interaction_comment_add,
            lambda w, u: i.interaction_comment_add(user=u, entry=w.entry, comment="Called back"),
            lambda w: w.entry,
        ),
        "interaction create": Case(
            i.interaction_create,
            lambda w, u: i.interaction_create(
                user=u, contact=w.person, interaction_template=w.template, idempotency_token=uuid.uuid4()
            ),
            lambda w: (w.person, w.template),
        ),
        "template document attach": Case(
            documents.interaction_template_attach,
            lambda w, u: documents.interaction_template_attach(
                user=u, template=w.template, language=None, data=docx_bytes("New"), file_name="new.docx"
            ),
            lambda w: w.template,
        ),
    }


CASES = cases()


def snapshot() -> dict[str, list[dict]]:
    """Every row of every model of the three apps and of auth, as values."""
    models = [model for label in (*APPS, "auth") for model in apps.get_app_config(label).get_models()]
    return {
        model._meta.label: [
            {key: bytes(value) if isinstance(value, memoryview) else value for key, value in row.items()}
            for row in model.objects.order_by("pk").values()
        ]
        for model in models
    }


@override_settings(TASKS=QUEUE)
@pytest.mark.parametrize("name", CASES)
def test_a_user_without_the_permission_is_refused_and_nothing_is_written(name, django_capture_on_commit_callbacks):
    case = CASES[name]
    world = World()
    viewer = world.viewer
    case.prepare(world)
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=False) as enqueued, pytest.raises(PermissionDenied) as error:
        case.call(world, viewer)

    assert str(error.value).endswith(" needed")
    assert snapshot() == before
    assert enqueued == []
    # The same call by an actor that may: it writes or enqueues, so "nothing" above means something.
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        case.call(world, COMMAND_LINE)
    assert snapshot() != before or enqueued


def _service_functions() -> set[str]:
    """`module.function` of every public top-level function of the apps (migrations, views and
    management commands left out, and crm.permissions, the rule) that takes a `user` or an `actor`."""
    found = set()
    for app in APPS:
        for path in sorted((PROJECT / app).rglob("*.py")):
            parts = path.relative_to(PROJECT).with_suffix("").parts
            if {"migrations", "views", "management"} & set(parts) or parts[-1].endswith("views"):
                continue
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if module == "crm.permissions":  # the rule itself
                continue
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                    arguments = node.args.args + node.args.kwonlyargs + node.args.posonlyargs
                    if {"user", "actor"} & {argument.arg for argument in arguments}:
                        found.add(f"{module}.{node.name}")
    return found


def test_every_service_with_an_actor_has_a_row():
    in_table = {f"{case.service.__module__}.{case.service.__name__}" for case in CASES.values()}
    assert _service_functions() - set(NOT_SERVICES) == in_table
    assert set(NOT_SERVICES) <= _service_functions()  # no stale exemption


def test_no_caller_passes_none_as_the_actor():
    """Commands pass COMMAND_LINE, pages request.user: `user=None` is written nowhere in the
    apps, the batch benchmarks or the tests (require would refuse it at run time)."""
    found = []
    for folder in (*APPS, "bench", "tests"):
        for path in sorted((PROJECT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    found += [
                        f"{path.relative_to(PROJECT)}:{node.lineno}"
                        for keyword in node.keywords
                        if keyword.arg in {"user", "actor"}
                        and isinstance(keyword.value, ast.Constant)
                        and keyword.value.value is None
                    ]
    assert found == []

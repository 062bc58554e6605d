"""Role × URL matrix (RELIABILITY 18): the exact status of every contact and segment page for every role.

Also: every state-changing POST without a CSRF token is refused, and no GET changes data.
"""

from __future__ import annotations

import inspect
import uuid
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from crm.models import Contact, NumberSeries
from crm.permissions import COMMAND_LINE
from crm.views import transfer
from interactions.models import LoggedSegment
from segments import services as segment_services
from segments.documents import segment_line_document_set
from segments.merge import merge_job_start
from segments.models import LogJob
from tests.conftest import make_user
from tests.factories import make_campaign, make_company, make_mailing_group, make_person
from tests.interactions.docx_builders import docx_bytes

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "inactive", "nobody", "viewer", "marketing", "admin")

# The import/export pages are another piece of work; until they exist their rows are expected
# to fail (the placeholder raises NotImplementedError). The mark goes away by itself once
# crm/views/transfer.py holds the real views, and the rows must then pass.
TRANSFER_PENDING = "NotImplementedError" in inspect.getsource(transfer)
PENDING = pytest.mark.xfail(TRANSFER_PENDING, reason="crm/views/transfer.py is still a placeholder", strict=False)

# (name, how to build the URL from the test objects, permission needed or "staff" for admin)
PAGES = [
    ("contact_list", lambda o: reverse("crm:contact_list"), "crm.view_contact"),
    ("contact_detail", lambda o: reverse("crm:contact_detail", args=[o["company"].pk]), "crm.view_contact"),
    ("contact_create_company", lambda o: reverse("crm:contact_create", args=["company"]), "crm.add_contact"),
    ("contact_create_person", lambda o: reverse("crm:contact_create", args=["person"]), "crm.add_contact"),
    ("contact_update", lambda o: reverse("crm:contact_update", args=[o["company"].pk]), "crm.change_contact"),
    ("contact_delete", lambda o: reverse("crm:contact_delete", args=[o["company"].pk]), "crm.delete_contact"),
    ("contact_import", lambda o: reverse("crm:contact_import"), "crm.import_contacts"),
    ("contact_export", lambda o: reverse("crm:contact_export"), "crm.export_contacts"),
    ("contact_mailing_group", lambda o: reverse("crm:contact_mailing_group"), "crm.change_contact"),
    ("contact_search", lambda o: reverse("crm:contact_search") + "?q=Acme", "crm.view_contact"),
    ("profile", lambda o: reverse("crm:profile"), None),  # one's own: any signed-in user
    ("campaign_list", lambda o: reverse("crm:campaign_list"), "crm.view_campaign"),
    ("campaign_detail", lambda o: reverse("crm:campaign_detail", args=[o["campaign"].pk]), "crm.view_campaign"),
    ("segment_list", lambda o: reverse("segments:segment_list"), "segments.view_segment"),
    ("segment_create", lambda o: reverse("segments:segment_create"), "segments.add_segment"),
    ("contacts_add_to_segment", lambda o: reverse("segments:contacts_add_to_segment"), "segments.change_segment"),
    ("segment_detail", lambda o: reverse("segments:segment_detail", args=[o["segment"].no]), "segments.view_segment"),
    (
        "segment_preview",
        lambda o: reverse("segments:segment_preview", args=[o["segment"].no]) + "?action=add&city=Delft",
        "segments.change_segment",
    ),
    ("segment_undo", lambda o: reverse("segments:segment_undo", args=[o["segment"].no]), "segments.change_segment"),
    (
        "line_edit",
        lambda o: reverse("segments:line_edit", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    (
        "line_remove",
        lambda o: reverse("segments:line_remove", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    ("segment_log", lambda o: reverse("segments:segment_log", args=[o["segment"].no]), "segments.log_segment"),
    ("segment_delete", lambda o: reverse("segments:segment_delete", args=[o["segment"].no]), "segments.delete_segment"),
    ("segment_drift", lambda o: reverse("segments:segment_drift", args=[o["segment"].no]), "segments.view_segment"),
    ("segment_merge", lambda o: reverse("segments:segment_merge", args=[o["segment"].no]), "segments.view_segment"),
    ("merge_job", lambda o: reverse("segments:merge_job", args=[o["merge_job"].pk]), "segments.view_segment"),
    ("log_job", lambda o: reverse("segments:log_job", args=[o["log_job"].pk]), "segments.view_segment"),
    (
        "merge_job_download",
        lambda o: reverse("segments:merge_job_download", args=[o["merge_job"].pk]),
        "segments.view_segment",
    ),
    (
        "segment_documents",
        lambda o: reverse("segments:segment_documents", args=[o["segment"].no]),
        "segments.view_segment",
    ),
    (
        "segment_document",
        lambda o: reverse("segments:segment_document", args=[o["segment"].no, o["document"].pk]),
        "segments.view_segment",
    ),
    (
        "line_letter",
        lambda o: reverse("segments:line_letter", args=[o["segment"].no, o["line_no"]]),
        "segments.view_segment",
    ),
    (
        "line_letter_download",
        lambda o: reverse("segments:line_letter_download", args=[o["segment"].no, o["line_no"]]),
        "segments.view_segment",
    ),
    ("logged_segment_list", lambda o: reverse("interactions:logged_segment_list"), "interactions.view_loggedsegment"),
    (
        "logged_segment_detail",
        lambda o: reverse("interactions:logged_segment_detail", args=[o["logged"].pk]),
        "interactions.view_loggedsegment",
    ),
    (
        "logged_segment_cancel",
        lambda o: reverse("interactions:logged_segment_cancel", args=[o["logged"].pk]),
        "interactions.change_loggedsegment",
    ),
    (
        "logged_segment_cancel_selected",
        lambda o: reverse("interactions:logged_segment_cancel_selected") + f"?id={o['logged'].pk}",
        "interactions.change_loggedsegment",
    ),
    (
        "logged_segment_follow_up",
        lambda o: reverse("interactions:logged_segment_follow_up", args=[o["logged"].pk]),
        "segments.add_segment",
    ),
    (
        "logged_segment_delete",
        lambda o: reverse("interactions:logged_segment_delete", args=[o["logged"].pk]),
        "interactions.delete_loggedsegment",
    ),
    (
        "line_row",
        lambda o: reverse("segments:line_row", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    ("admin_index", lambda o: reverse("admin:index"), "staff"),
    ("admin_contact_change", lambda o: reverse("admin:crm_contact_change", args=[o["company"].pk]), "staff"),
]
TRANSFER_PAGES = {"contact_import", "contact_export"}
# Segment actions that only take a POST: a GET is refused (403 without the permission, 405 with it).
SEGMENT_POST_ONLY = [
    ("worksheet_panel", lambda o: reverse("segments:worksheet_panel"), "segments.view_segment"),
    ("segment_header", lambda o: reverse("segments:segment_header", args=[o["segment"].no]), "segments.change_segment"),
    ("segment_step", lambda o: reverse("segments:segment_step", args=[o["segment"].no]), "segments.change_segment"),
    (
        "segment_add_contact",
        lambda o: reverse("segments:segment_add_contact", args=[o["segment"].no]),
        "segments.change_segment",
    ),
    (
        "line_reset",
        lambda o: reverse("segments:line_reset", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    (
        "criteria_save",
        lambda o: reverse("segments:criteria_save", args=[o["segment"].no]),
        "segments.add_savedcriteria",
    ),
    ("criteria_reuse", lambda o: reverse("segments:criteria_reuse", args=[o["segment"].no]), "segments.change_segment"),
    ("reuse_logged", lambda o: reverse("segments:reuse_logged", args=[o["segment"].no]), "segments.change_segment"),
    (
        "segment_drop_withdrawn",
        lambda o: reverse("segments:segment_drop_withdrawn", args=[o["segment"].no]),
        "segments.change_segment",
    ),
    (
        "segment_refresh",
        lambda o: reverse("segments:segment_refresh", args=[o["segment"].no]),
        "segments.change_segment",
    ),
    (
        "segment_document_upload",
        lambda o: reverse("segments:segment_document_upload", args=[o["segment"].no]),
        "segments.change_segment",
    ),
    (
        "line_document_upload",
        lambda o: reverse("segments:line_document_upload", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    (
        "line_document_remove",
        lambda o: reverse("segments:line_document_remove", args=[o["segment"].no, o["line_no"]]),
        "segments.change_segment",
    ),
    (
        "segment_test_mail",
        lambda o: reverse("segments:segment_test_mail", args=[o["segment"].no]),
        "segments.log_segment",
    ),
    (
        "line_test_mail",
        lambda o: reverse("segments:line_test_mail", args=[o["segment"].no, o["line_no"]]),
        "segments.log_segment",
    ),
    (
        "merge_job_restart",
        lambda o: reverse("segments:merge_job_restart", args=[o["merge_job"].pk]),
        "segments.run_mail_merge",
    ),
]
SEGMENT_PERMISSIONS = {
    "segments.view_segment",
    "segments.add_segment",
    "segments.change_segment",
    "segments.delete_segment",
    "segments.add_savedcriteria",
    "segments.log_segment",
    "segments.run_mail_merge",
}
LOGGED_SEGMENT_PERMISSIONS = {
    "interactions.view_loggedsegment",
    "interactions.change_loggedsegment",
    "interactions.delete_loggedsegment",
}

# What each role may do (crm/roles.py): viewers read, marketing works on contacts, admins
# hold every CRM permission and are staff.
ALLOWED = {
    "anonymous": set(),
    "inactive": set(),
    "nobody": set(),
    "viewer": {"crm.view_contact", "crm.view_campaign", "segments.view_segment", "interactions.view_loggedsegment"},
    "marketing": {
        "crm.view_contact",
        "crm.view_campaign",
        "crm.add_contact",
        "crm.change_contact",
        "crm.delete_contact",
        "crm.import_contacts",
        "crm.export_contacts",
        *SEGMENT_PERMISSIONS,
        *LOGGED_SEGMENT_PERMISSIONS,
    },
    "admin": {
        "crm.view_contact",
        "crm.view_campaign",
        "crm.add_contact",
        "crm.change_contact",
        "crm.delete_contact",
        "crm.import_contacts",
        "crm.export_contacts",
        *SEGMENT_PERMISSIONS,
        *LOGGED_SEGMENT_PERMISSIONS,
        "staff",
    },
}


def expected_status(role: str, needed: str) -> int:
    if role in ("anonymous", "inactive"):
        return 302  # to the login page: an inactive user's session does not authenticate
    if needed is None:
        return 200
    if needed == "staff":
        return 200 if "staff" in ALLOWED[role] else 302  # admin sends non-staff to its own login
    return 200 if needed in ALLOWED[role] else 403


def login_urls(role: str, needed: str) -> set[str]:
    """Where a refused request is sent to sign in.

    Signed-in non-staff users meet admin's own login page; signed-out users may meet either
    (LoginRequiredMiddleware answers before admin does for most admin URLs).
    """
    if needed != "staff":
        return {reverse("login")}
    if role in ("anonymous", "inactive"):
        return {reverse("admin:login"), reverse("login")}
    return {reverse("admin:login")}


def client_for(role: str) -> tuple[Client, User | None]:
    client = Client()
    if role == "anonymous":
        return client, None
    if role == "inactive":
        user = make_user("marketing", "inactive-user", is_active=False)
    else:
        user = make_user(None if role == "nobody" else role)
    client.force_login(user)
    return client, user


@pytest.fixture
def objects(db) -> dict:
    company = make_company(no="CO1", name="Acme")
    segment = segment_services.segment_create(user=COMMAND_LINE, values={"description": "Matrix"})
    segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment, contact=company)
    line_no = segment.lines.get().line_no
    # The line's own Word document (no salutation, so the letter of the company's line can be made).
    document = segment_line_document_set(
        user=COMMAND_LINE,
        segment=segment,
        line_no=line_no,
        data=docx_bytes("Hello {{ contact.name }}"),
        file_name="own.docx",
    )
    logged = LoggedSegment.objects.create(segment_no="SEG09999", source_uuid=uuid.uuid4(), description="Matrix")
    merge_job = merge_job_start(user=COMMAND_LINE, segment=segment, output="docx")
    return {
        "company": company,
        "campaign": make_campaign(no="CP0001"),
        "segment": segment,
        "line_no": line_no,
        "document": document,
        "logged": logged,
        "merge_job": merge_job,
        "log_job": LogJob.objects.create(segment=segment, segment_no=segment.no, segment_uuid=segment.uuid),
    }


def matrix():
    for name, url, needed in PAGES:
        for role in ROLES:
            marks = [PENDING] if name in TRANSFER_PAGES else []
            yield pytest.param(name, url, needed, role, id=f"{name}-{role}", marks=marks)


@pytest.mark.parametrize(("name", "url", "needed", "role"), list(matrix()))
def test_role_url_matrix(objects, name, url, needed, role):
    client, _user = client_for(role)
    path = url(objects)

    response = client.get(path)

    expected = expected_status(role, needed)
    assert response.status_code == expected, f"{role} GET {path}"
    if expected == 302:
        assert response["Location"] in {f"{login}?next={quote(path)}" for login in login_urls(role, needed)}


def test_the_matrix_covers_every_page_of_the_crm_namespace():
    from crm import page_urls

    names = {pattern.name for pattern in page_urls.urlpatterns}
    covered = {name.removesuffix("_company").removesuffix("_person") for name, _url, _perm in PAGES}
    assert names <= covered


def test_the_matrix_covers_every_page_of_the_segments_namespace():
    from segments import urls

    names = {pattern.name for pattern in urls.urlpatterns}
    covered = {name for name, _url, _perm in [*PAGES, *SEGMENT_POST_ONLY]}
    assert names <= covered


def post_only_matrix():
    for name, url, needed in SEGMENT_POST_ONLY:
        for role in ROLES:
            yield pytest.param(name, url, needed, role, id=f"{name}-{role}")


@pytest.mark.parametrize(("name", "url", "needed", "role"), list(post_only_matrix()))
def test_post_only_segment_urls_refuse_get(objects, name, url, needed, role):
    client, _user = client_for(role)
    path = url(objects)

    response = client.get(path)

    expected = expected_status(role, needed)
    assert response.status_code == (405 if expected == 200 else expected), f"{role} GET {path}"


@pytest.mark.parametrize("permission", sorted(ALLOWED["marketing"]))
def test_an_inactive_user_has_no_permission_at_all(permission):
    user = make_user("marketing", "inactive-user", is_active=False)
    assert user.has_perm(permission) is False


@pytest.mark.parametrize(
    "path",
    [
        lambda o: reverse("crm:contact_list"),
        lambda o: reverse("crm:contact_detail", args=[o["company"].pk]),
        lambda o: reverse("crm:contact_search"),
        lambda o: reverse("crm:campaign_list"),
        lambda o: reverse("crm:campaign_detail", args=[o["campaign"].pk]),
        lambda o: reverse("segments:segment_list"),
        lambda o: reverse("segments:segment_detail", args=[o["segment"].no]),
        lambda o: reverse("segments:segment_preview", args=[o["segment"].no]),
    ],
    ids=[
        "contact_list",
        "contact_detail",
        "contact_search",
        "campaign_list",
        "campaign_detail",
        "segment_list",
        "segment_detail",
        "segment_preview",
    ],
)
def test_read_only_pages_refuse_post_with_405(objects, admin_client_crm, path):
    assert admin_client_crm.post(path(objects)).status_code == 405


# --- CSRF -------------------------------------------------------------------------------

POSTS = [
    ("contact_create", lambda o: reverse("crm:contact_create", args=["company"]), {"name": "Sneaky"}),
    ("contact_update", lambda o: reverse("crm:contact_update", args=[o["company"].pk]), {"name": "Sneaky"}),
    ("contact_delete", lambda o: reverse("crm:contact_delete", args=[o["company"].pk]), {}),
    ("contact_import", lambda o: reverse("crm:contact_import"), {}),
    ("admin_contact_change", lambda o: reverse("admin:crm_contact_change", args=[o["company"].pk]), {"name": "X"}),
    ("admin_contact_delete", lambda o: reverse("admin:crm_contact_delete", args=[o["company"].pk]), {"post": "yes"}),
    ("admin_series_change", lambda o: reverse("admin:crm_numberseries_change", args=["CONTACT"]), {"last_no": "9"}),
    ("segment_create", lambda o: reverse("segments:segment_create"), {"description": "Sneaky"}),
    ("segment_step", lambda o: reverse("segments:segment_step", args=[o["segment"].no]), {"action": "add"}),
    ("segment_undo", lambda o: reverse("segments:segment_undo", args=[o["segment"].no]), {}),
    ("segment_drop_withdrawn", lambda o: reverse("segments:segment_drop_withdrawn", args=[o["segment"].no]), {}),
    ("segment_refresh", lambda o: reverse("segments:segment_refresh", args=[o["segment"].no]), {}),
    (
        "line_remove",
        lambda o: reverse("segments:line_remove", args=[o["segment"].no, o["line_no"]]),
        {},
    ),
    ("segment_log", lambda o: reverse("segments:segment_log", args=[o["segment"].no]), {}),
    ("segment_delete", lambda o: reverse("segments:segment_delete", args=[o["segment"].no]), {}),
    ("logged_segment_cancel", lambda o: reverse("interactions:logged_segment_cancel", args=[o["logged"].pk]), {}),
    ("logged_segment_follow_up", lambda o: reverse("interactions:logged_segment_follow_up", args=[o["logged"].pk]), {}),
    ("logged_segment_delete", lambda o: reverse("interactions:logged_segment_delete", args=[o["logged"].pk]), {}),
]


@pytest.mark.parametrize(("name", "url", "data"), POSTS, ids=[p[0] for p in POSTS])
def test_state_changing_post_without_csrf_token_is_refused(objects, name, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    before = snapshot()

    response = client.post(url(objects), data)

    assert response.status_code == 403
    assert snapshot() == before


# --- GET is safe ------------------------------------------------------------------------


def snapshot() -> dict:
    """Every row of the crm, interactions and segments apps, as values (compares content, not counts)."""
    state = {}
    for label in ("crm", "interactions", "segments"):
        for model in apps.get_app_config(label).get_models():
            state[model._meta.label] = sorted(map(repr, model._default_manager.values_list()))
    return state


def get_matrix():
    for name, url, _needed in PAGES:
        marks = [PENDING] if name in TRANSFER_PAGES else []
        yield pytest.param(url, id=name, marks=marks)


@pytest.mark.parametrize("url", list(get_matrix()))
def test_a_get_never_changes_data(objects, url):
    client, _user = client_for("admin")
    make_person(company=objects["company"])
    make_mailing_group()
    before = snapshot()
    series = dict(NumberSeries.objects.values_list("code", "last_no"))

    response = client.get(url(objects))

    assert response.status_code == 200
    assert snapshot() == before
    assert dict(NumberSeries.objects.values_list("code", "last_no")) == series
    assert Contact.objects.filter(pk=objects["company"].pk).exists()

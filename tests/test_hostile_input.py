"""Hostile input never gives a server error (RELIABILITY 25), on SQLite and PostgreSQL.

A logged-in marketing user sends every page and every form of the three apps values no browser
would: NUL and other control characters, line breaks where one line belongs, numbers past 64
bits, dates at the calendar's edges, a `next` that is no path of this site, huge formset
counts, any Unicode. Every answer must be below 500; a refused request (4xx, or an error
message without a success one) must have written nothing.

The targets are found, not listed: every URL pattern of the `crm`, `segments` and
`interactions` namespaces is filled with ids of a small world (the first candidate that is
not a 404), fetched, and every form on those pages (and on the confirmation pages their posts
lead to) becomes a target with its field names and default values. A new page or form is
fuzzed without editing this file; a new URL parameter name needs candidate values in `world`.

Each request runs inside a savepoint that is rolled back afterwards, so a request that did
succeed (logged the segment, deleted the contact) leaves the world as it was for the next.

Per database, a deterministic sweep (every target with each kind of hostile value in all its
fields) and a bounded hypothesis run (a random target; a few of its fields, or of the query
names pages read, given random hostile values; with or without htmx headers). A guard test
checks that every form and FilterSet of the project checks raw input (crm.untrusted).
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urljoin, urlsplit

import django_filters
import pytest
from django import forms
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.filters import StrictFilterSet
from crm.models import Contact, ContactAltAddress, ContactAltAddressDateRange, CorrespondenceType
from crm.untrusted import CheckedInputMixin
from interactions.models import Delivery, Document, InteractionComment, InteractionLogEntry, LoggedSegment
from interactions.unsubscribe import make_token
from segments.models import MergeJob, Segment, SegmentLine
from tests.app_state import APPS, app_state
from tests.factories import (
    attach_word_template,
    make_campaign,
    make_company,
    make_country,
    make_language,
    make_person,
    make_salesperson,
    make_template,
)

pytestmark = pytest.mark.django_db

EXAMPLES = 100
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

# --- Hostile values ----------------------------------------------------------------------------------

CONTROL = st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\r", "\n", "\r\n", "\t"])
WITH_CONTROL = st.tuples(st.text(max_size=6), CONTROL, st.text(max_size=6)).map("".join)
NUMBERS = st.one_of(
    st.sampled_from(
        [str(2**63 - 1), str(2**63), str(2**64), "9" * 20, "9" * 400, "-1", "0", "00", "1e400", "NaN", "²", "١٢"]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
DATES = st.one_of(
    st.sampled_from(
        ["0001-01-01", "9999-12-31", "9999-12-01", "1899-12-31", "1900-01-01", "9998-12-31", "2026-02-30"]
        + ["2026-13-01", "10000-01-01", "0000-00-00", "31-12-2026"]
    ),
    st.dates().map(datetime.date.isoformat),
)
NEXT = st.sampled_from(
    ["back", "javascript:alert(1)", "//evil.example/", "https://evil.example/", "/\\evil.example", "///evil.example"]
    + ["/interactions/\r\nSet-Cookie: a=b", "", " ", "interactions:entry_list", "/\x00"]
)
COUNTS = st.sampled_from(["1000000", "1001", "101", "51", "-1", str(2**64), "x"])
HOSTILE = st.one_of(WITH_CONTROL, NUMBERS, DATES, NEXT, COUNTS, st.text(max_size=30))
HOSTILE_VALUES = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=2, max_size=3))

# One value of each kind for the sweep: (value, the fields of a form that get it, whether the
# pages get it in every query name they may read). Dates matter in forms' date fields only.
SWEEP = [
    ("a\x00\r\nb", "all", True),
    ("99999999999999999999", "all", True),
    ("0001-01-01", "all", False),
    ("9999-12-31", "all", False),
    ("back", "next", False),
    ("1000000", "counts", False),
]

# Query names a page may read besides its forms' fields.
EXTRA_NAMES = ("page", "next", "id", "entry", "panel", "chart", "format", "query", "confirm", "action")


# --- The world -------------------------------------------------------------------------------------


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


@pytest.fixture
def world(marketing) -> dict[str, list[str]]:
    """A small world with one of everything a page shows: contacts with an alternate address
    and its date range, a template with a Word document, an open segment with lines and saved
    criteria, a logged segment with entries (one canceled), a single interaction with a
    comment, a delivery and a merge job. Built through the batch commands (CONTRACT) where
    one exists. Returns the candidate values of each URL parameter."""
    salesperson = make_salesperson("ANN", name="Ann Seller")
    netherlands = make_country("NL", name="Netherlands")
    make_language("EN")
    campaign = make_campaign(no="CP0001", salesperson=salesperson)
    template = make_template("LETTER", description="Spring letter", correspondence_type=CorrespondenceType.HARD_COPY)
    attach_word_template(template, "Dear {{ contact.name }}", "{{ line.personal_text }}")
    company = make_company(no="C100", name="Acme Delft", city="Delft", salesperson=salesperson)
    office = ContactAltAddress.objects.create(contact=company, code="HQ", city="Utrecht", country=netherlands)
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=office, starting_date=datetime.date(2026, 1, 1)
    )
    make_person(company, no="P100", name="Dora Delft", email="dora@acme.test", salesperson=salesperson)
    make_person(None, no="P200", name="Bob Berlin", city="Berlin", salesperson=salesperson)

    header = ["--description", "Spring mailing", "--interaction-template", "LETTER", "--campaign", campaign.no]
    to_log = command("segment", "create", *header)
    command("segment", "add", to_log, "--filter", "company_no=C100")
    logged = LoggedSegment.objects.get(pk=int(command("segment", "log", to_log).splitlines()[0]))
    opened = command("segment", "create", *header, "--subject", "Our offer")
    command("segment", "add", opened, "--filter", "city=Delft")
    command("segment", "add-contact", opened, "P200")
    command("segment", "save-criteria", opened, "SAVED", "--description", "Delft")
    entry_no = command("interactions", "create", "P200", "--interaction-template", "LETTER")
    first = InteractionLogEntry.objects.filter(logged_segment=logged).order_by("pk").first()
    command("interactions", "cancel", str(first.pk))
    InteractionComment.objects.create(entry_id=int(entry_no), comment="Called back", created_by=marketing)

    delivery = Delivery.objects.create(logged_segment=logged, total=3)
    segment = Segment.objects.get(no=opened)
    job = MergeJob.objects.create(segment=segment, segment_no=segment.no, output="docx")
    ids = [
        *Contact.objects.values_list("pk", flat=True),
        *InteractionLogEntry.objects.values_list("pk", flat=True),
        logged.pk,
        delivery.pk,
        job.pk,
        campaign.pk,
    ]
    line = SegmentLine.objects.filter(segment=segment).order_by("line_no").first()
    return {
        "pk": [str(pk) for pk in sorted(set(ids))],
        "no": [segment.no],
        "line_no": [str(line.line_no)],
        "code": [template.code],
        "contact_type": ["company", "person"],
        "document_id": [str(pk) for pk in Document.objects.values_list("pk", flat=True)],
        # the public unsubscribe page: a link of the logged segment's first contact
        "token": [make_token(contact_id=first.contact_id, logged_segment_id=logged.pk)],
    }


# --- Finding the pages and forms ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A request to fuzz: a page (GET with a query string) or a form (its method, target and
    the fields its page sends, with their default values)."""

    method: str
    path: str
    fields: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _value in self.fields))

    def data(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for name, value in self.fields:
            values.setdefault(name, []).append(value)
        return values

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.names}"


class FormParser(HTMLParser):
    """The forms of a page as a browser would submit them: inputs with their values (every
    checkbox ticked, the checked or first radio button), selects with the selected or first
    non-empty option, textareas, file inputs, and one submission per submit button (its
    `formaction` and its name and value)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.hx_targets: set[str] = set()
        self._form: dict | None = None
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {key: value if value is not None else "" for key, value in attrs}
        if attrs.get("hx-target", "").startswith("#"):
            self.hx_targets.add(attrs["hx-target"][1:])
        if tag == "form":
            self._form = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action", ""),
                "fields": [],
                "radios": {},
                "files": [],
                "buttons": [],
            }
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name", "")
        kind = attrs.get("type", "text" if tag == "input" else "submit").lower()
        if tag in ("input", "button") and kind in ("submit", "image"):
            form["buttons"].append((attrs.get("formaction"), name, attrs.get("value", "")))
        elif tag == "input" and name:
            if kind == "file":
                form["files"].append(name)
            elif kind == "radio":
                if name not in form["radios"] or "checked" in attrs:
                    form["radios"][name] = attrs.get("value", "on")
            elif kind not in ("button", "reset"):
                form["fields"].append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in attrs, "options": [], "selected": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "text": ""}
            if "selected" in attrs:
                self._select["selected"].append(self._option)
            self._select["options"].append(self._option)
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": ""}

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"] += data
        if self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self._form["fields"] += list(self._form.pop("radios").items())
            self._form = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None and self._form is not None:
            select = self._select
            values = [
                option["value"] if option["value"] is not None else option["text"] for option in select["options"]
            ]
            chosen = [o["value"] if o["value"] is not None else o["text"] for o in select["selected"]]
            if not chosen and not select["multiple"]:
                chosen = [value for value in values if value][:1]
            self._form["fields"] += [(select["name"], value) for value in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form["fields"].append((self._textarea["name"], self._textarea["text"].removeprefix("\n")))
            self._textarea = None


def option_value(option: dict) -> str:
    return option["value"] if option["value"] is not None else option["text"]


def in_apps(path: str) -> bool:
    try:
        return resolve(urlsplit(path).path).namespace in APPS
    except Resolver404:
        return False


def targets_of(page: str, html: str) -> tuple[list[Target], set[str]]:
    """The forms of a page, one target per submit button, and its htmx targets."""
    parser = FormParser()
    parser.feed(html)
    found = []
    for form in parser.forms:
        submissions = [(button[0] or form["action"], button[1], button[2]) for button in form["buttons"]] or [
            (form["action"], "", "")
        ]
        for action, button, value in submissions:
            target = urljoin(page, action or page)
            if form["method"] == "get":
                target = urlsplit(target).path
            if not in_apps(target):
                continue
            fields = list(form["fields"]) + ([(button, value)] if button else [])
            found.append(Target(form["method"], target, tuple(fields), tuple(form["files"])))
    return found, parser.hx_targets


def routes(resolver=None, prefix: str = ""):
    """(route, namespace) of every URL pattern below the root, includes followed."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from (
                (route, pattern.namespace or namespace)
                for route, namespace in routes(pattern, prefix + str(pattern.pattern))
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), None


PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def paths_of(route: str, parameters: dict[str, list[str]]) -> list[str]:
    """The route with each parameter filled, one path per combination of candidate values."""
    names = PARAMETER.findall(route)
    missing = [name for name in names if name not in parameters]
    assert not missing, f"give the fuzz test a value for the URL parameter(s) {missing} of {route!r}"
    paths = ["/" + route]
    for name in names:
        paths = [re.sub(rf"<(?:\w+:)?{name}>", value, path, count=1) for path in paths for value in parameters[name]]
    return paths


@dataclass
class Site:
    """What to fuzz: `forms` with their fields; `pages`, the GET pages and the actions without
    a form, with the query names pages read."""

    pages: list[Target]
    forms: list[Target]
    hx_targets: list[str]
    names: list[str]


def in_savepoint(call):
    """Run `call()` and roll back whatever it wrote."""
    savepoint = transaction.savepoint_create()
    try:
        return call()
    finally:
        transaction.savepoint_rollback(savepoint)


def discover(client, parameters: dict[str, list[str]]) -> Site:
    """Every page of the apps' URL patterns (filled with the world's ids) and every form on
    them, then the forms of the pages their posts answer with (confirmation pages)."""
    app_routes = [route for route, namespace in routes() if namespace in APPS]
    assert len(app_routes) > 30, app_routes
    pages, forms, hx_targets = [], {}, set()

    def collect(page: str, response) -> None:
        if response.status_code in (200, 400) and response.get("Content-Type", "").startswith("text/html"):
            found, targets = targets_of(page, response.content.decode())
            hx_targets.update(targets)
            for target in found:
                forms.setdefault((target.method, target.path, tuple(target.names)), target)

    posts = []
    for route in app_routes:
        candidates = paths_of(route, parameters)
        for path in candidates:
            response = client.get(path)
            if response.status_code != 404 or path == candidates[-1]:
                break
        if response.status_code != 405:
            pages.append(Target("get", path))
        view_class = getattr(resolve(path).func, "view_class", None)
        if view_class is None or hasattr(view_class, "post"):
            posts.append(Target("post", path))
        collect(path, response)
    for target in [target for target in forms.values() if target.method == "post"]:
        posted = in_savepoint(lambda target=target: client.post(target.path, with_files(target, target.data())))
        collect(target.path, posted)
    # An action no page offered a form for (a refusal page instead, a missing permission) is
    # posted with the query names alone.
    with_form = {target.path for target in forms.values()}
    pages += [target for target in posts if target.path not in with_form]
    names = sorted({name for target in forms.values() for name in target.names} | set(EXTRA_NAMES))
    return Site(pages=pages, forms=list(forms.values()), hx_targets=sorted(hx_targets), names=names)


# --- Sending and judging ----------------------------------------------------------------------------


def with_files(target: Target, data: dict) -> dict:
    """The data of a form with file inputs, each given a small file that is no Word document."""
    return {**data, **{name: SimpleUploadedFile("letter.docx", b"not a docx") for name in target.files}}


def refused(response) -> bool:
    """A 4xx, or a redirect or page with an error message and no success message."""
    levels = {message.level for message in get_messages(response.wsgi_request)}
    return response.status_code >= 400 or (messages.ERROR in levels and messages.SUCCESS not in levels)


WRITES = ("INSERT", "UPDATE", "DELETE")


def writes(queries: list[dict]) -> list[str]:
    """The statements among `queries` that change a table of the apps (sessions are the login's)."""
    return [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith(WRITES) and "django_session" not in query["sql"]
    ]


def send(client, target: Target, data: dict, baseline: dict, headers: dict | None = None):
    """Send `data` to `target` (rolled back afterwards): never a server error, and nothing
    written when the request was refused. A refused request that ran no INSERT, UPDATE or
    DELETE wrote nothing; one that ran some (a service may try and roll back) must have left
    every row as it was."""
    described = f"{target.method.upper()} {target.path} {data!r} {headers or ''}"

    def call():
        connection.queries_log.clear()  # the log keeps 9,000 queries; the capture counts from its length
        # Judge the request by its own messages, not by those an earlier one left unread (a page
        # that shows none, the public unsubscribe page, would otherwise look refused).
        client.cookies.pop("messages", None)
        try:
            with CaptureQueriesContext(connection) as queries:
                if target.method == "get":
                    response = client.get(target.path, data, headers=headers or {})
                else:
                    response = client.post(target.path, with_files(target, data), headers=headers or {})
        except Exception as error:  # the test client re-raises what became a 500
            raise AssertionError(f"server error: {error!r} on {described}") from error
        assert response.status_code < 500, described
        if refused(response) and writes(queries.captured_queries):
            assert app_state() == baseline, f"a refused request wrote: {described}"
        return response

    return in_savepoint(call)


@pytest.fixture
def site(marketing_client, world) -> Site:
    return discover(marketing_client, world)


@pytest.fixture
def baseline(site) -> dict:
    """The rows before any request (each request is rolled back, so also before every one)."""
    return app_state()


# --- The tests --------------------------------------------------------------------------------------


def test_every_form_and_filter_set_of_the_project_checks_raw_input():
    """A new form must derive from crm.untrusted.CheckedForm/CheckedModelForm (or another
    CheckedInputMixin form), a new FilterSet from crm.filters.StrictFilterSet."""
    classes = []
    for app in APPS:
        package = importlib.import_module(app)
        for module_info in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if ".migrations" in module_info.name or ".management" in module_info.name:
                continue
            module = importlib.import_module(module_info.name)
            classes += [
                cls for _name, cls in inspect.getmembers(module, inspect.isclass) if cls.__module__ == module_info.name
            ]
    filter_sets = [cls for cls in classes if issubclass(cls, django_filters.FilterSet)]
    # A StrictFilterSet mixes the check into its Meta.form itself (StrictFilterSet.get_form_class).
    criteria_forms = {cls._meta.form for cls in filter_sets if issubclass(cls, StrictFilterSet)}
    unchecked = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in classes
        if (issubclass(cls, forms.BaseForm) and not issubclass(cls, CheckedInputMixin) and cls not in criteria_forms)
        or (issubclass(cls, django_filters.FilterSet) and not issubclass(cls, StrictFilterSet))
    ]
    assert unchecked == []


def test_every_page_and_form_takes_each_kind_of_hostile_value(marketing_client, site, baseline):
    forms_by_path = {target.path for target in site.forms}
    # The discovery found what it must: the filter forms, the worksheet's forms, the contact
    # form with its formsets, the log's actions with their `next`.
    for path in ("/contacts/", "/interactions/", "/interactions/statistics/", "/interactions/evaluate/"):
        assert path in forms_by_path, sorted(forms_by_path)
    assert any(target.path.endswith("/steps/") for target in site.forms)
    assert any("alt-TOTAL_FORMS" in target.names for target in site.forms)
    assert any("next" in target.names for target in site.forms)
    assert len(site.pages) > 25 and len(site.forms) > 30

    for value, which, pages in SWEEP:
        for target in site.forms:
            if which == "all":
                chosen = target.names
            elif which == "next":
                chosen = ["next"]
            else:
                chosen = [name for name in target.names if name.endswith(("TOTAL_FORMS", "INITIAL_FORMS"))]
            if chosen:
                send(marketing_client, target, {**target.data(), **dict.fromkeys(chosen, value)}, baseline)
        for page in site.pages if pages else ():
            send(marketing_client, page, dict.fromkeys(EXTRA_NAMES, value), baseline)


@FUZZ
@given(data=st.data())
def test_pages_and_forms_take_any_values(marketing_client, site, baseline, data):
    """A page with a random query string, or a form with random fields hostile (the others
    keep their defaults, so a hostile `next` or count meets an otherwise valid post)."""
    target = data.draw(st.sampled_from(site.pages + site.forms), label="target")
    if target.fields:
        names = st.sampled_from([*target.names, "next"])
        values = data.draw(st.dictionaries(names, HOSTILE_VALUES, min_size=1, max_size=3), label="values")
        values = {**target.data(), **values}
    else:
        values = data.draw(st.dictionaries(st.sampled_from(site.names), HOSTILE_VALUES, max_size=4), label="query")
    headers = data.draw(htmx_headers(site), label="headers")

    send(marketing_client, target, values, baseline, headers)


def htmx_headers(site: Site):
    return st.one_of(
        st.just({}),
        st.sampled_from(site.hx_targets).map(lambda target: {"HX-Request": "true", "HX-Target": target}),
    )

"""The Log transaction under concurrency (RELIABILITY cases 1, 2 and 4).

Real commits (`transaction=True`): threads released together at a barrier, each on its own
database connection, closed when the thread ends. Run on SQLite (a WAL file database with
IMMEDIATE transactions) and on PostgreSQL (DATABASE_URL).

- Case 1: eight logs of one segment at once: exactly one wins, the seven others learn who
  logged it and when (SegmentAlreadyLogged), never an IntegrityError or "database is locked".
- Case 2: the same log twice in a row: the second is refused and writes nothing.
- Case 4: a line edit that arrives while the log is in progress waits for it, then is refused;
  every line that was ever committed is either still there or has exactly one entry.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, OperationalError, connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from crm.models import Contact, ContactType
from crm.permissions import COMMAND_LINE
from interactions.models import CampaignEntry, InteractionLogEntry, LoggedSegment
from segments import services as segment_services
from segments.models import Segment, SegmentLine
from segments.services import log as log_service
from tests.conftest import make_user
from tests.factories import make_campaign, make_salesperson, make_template
from tests.interactions.log_patch import after_entries

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
LINES = 50
ALREADY_LOGGED = re.compile(r"^Segment (SEG\d+) was already logged by (.+) at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.$")


def run_together(*jobs: Callable[[], object]) -> list[object | BaseException]:
    """Run `jobs` in threads released at once by a barrier; return each job's result or error.

    Each thread closes its own connection when done (Django opens one per thread)."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[object | BaseException] = [None] * len(jobs)

    def work(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = job()
        except BaseException as error:  # the test inspects every outcome
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def build_segment(lines: int = LINES) -> Segment:
    """A loggable segment of `lines` company lines, with a campaign, template and salesperson
    on the header (so every line carries the campaign: one campaign entry when logged)."""
    city = "LOGCITY"
    Contact.objects.bulk_create(
        Contact(no=f"LC{i:04d}", name=f"Log company {i}", type=ContactType.COMPANY, city=city) for i in range(lines)
    )
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Concurrent log",
            "interaction_template": make_template(correspondence_type=""),
            "salesperson": make_salesperson("ANN"),
            "campaign": make_campaign(),
        },
    )
    result = segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"city={city}")
    assert result.line_count == lines
    assert set(SegmentLine.objects.filter(segment=segment).values_list("campaign_id", flat=True)) == {
        segment.campaign_id
    }
    return segment


def table_counts() -> dict[str, int]:
    return {
        "logged_segments": LoggedSegment.objects.count(),
        "entries": InteractionLogEntry.objects.count(),
        "campaign_entries": CampaignEntry.objects.count(),
        "segments": Segment.objects.count(),
        "lines": SegmentLine.objects.count(),
    }


def classify(outcomes: list[object | BaseException]) -> Counter:
    kinds: Counter = Counter()
    for outcome in outcomes:
        if isinstance(outcome, segment_services.LogResult):
            kinds["success"] += 1
        elif isinstance(outcome, segment_services.SegmentAlreadyLogged):
            kinds["already_logged"] += 1
        elif isinstance(outcome, IntegrityError):
            kinds["IntegrityError"] += 1
        elif isinstance(outcome, OperationalError) and "locked" in str(outcome):
            kinds["database is locked"] += 1
        else:
            kinds[f"other: {outcome!r}"] += 1
    return kinds


# --- case 1 ---------------------------------------------------------------------------------


def test_eight_concurrent_logs_of_one_segment_log_it_exactly_once():
    segment = build_segment()
    users = [make_user("marketing", f"logger{i}") for i in range(THREADS)]
    names = {user.get_username() for user in users}

    outcomes = run_together(
        *(
            (lambda user=user: segment_services.segment_log(user=user, segment=Segment.objects.get(pk=segment.pk)))
            for user in users
        )
    )

    kinds = classify(outcomes)
    after = table_counts()
    print(  # noqa: T201 - the figures the lead quotes (run with -s)
        f"\n[{connection.vendor}] concurrent log: attempts={THREADS} successes={kinds['success']} "
        f"already_logged={kinds['already_logged']} integrity_errors={kinds['IntegrityError']} "
        f"database_locked={kinds['database is locked']} logged_segments={after['logged_segments']} "
        f"entries={after['entries']} campaign_entries={after['campaign_entries']}"
    )
    assert kinds == Counter(success=1, already_logged=THREADS - 1), kinds
    winner = next(outcome for outcome in outcomes if isinstance(outcome, segment_services.LogResult))
    assert winner.entries == LINES and winner.campaign_entries == 1
    logged = LoggedSegment.objects.select_related("user").get()
    assert logged.source_uuid == segment.uuid and logged.user.get_username() in names
    for outcome in outcomes:
        if isinstance(outcome, segment_services.SegmentAlreadyLogged):
            match = ALREADY_LOGGED.match(outcome.messages[0])
            assert match, outcome.messages[0]
            assert match.group(1) == segment.no and match.group(2) == logged.user.get_username()
            assert outcome.logged_segment.pk == logged.pk
    assert after == {"logged_segments": 1, "entries": LINES, "campaign_entries": 1, "segments": 0, "lines": 0}
    assert logged.no_of_interactions == LINES and logged.no_of_campaign_entries == 1


def log_url(segment: Segment) -> str | None:
    """The Log page's URL (built by the segment pages), or None while it does not exist."""
    for kwargs in ({"no": segment.no}, {"uuid": segment.uuid}):
        try:
            return reverse("segments:segment_log", kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def test_eight_concurrent_log_posts_redirect_and_log_once():
    segment = build_segment()
    url = log_url(segment)
    if url is None:
        pytest.skip("URL segments:segment_log (the Log page) does not exist yet")
    clients = []
    for i in range(THREADS):
        client = Client()
        client.force_login(make_user("marketing", f"poster{i}"))
        clients.append(client)

    outcomes = run_together(
        *((lambda client=client: client.post(url, {"segment_uuid": str(segment.uuid)})) for client in clients)
    )

    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert errors == []
    statuses = Counter(response.status_code for response in outcomes)
    texts = [str(message) for response in outcomes for message in get_messages(response.wsgi_request)]
    refused = [text for text in texts if ALREADY_LOGGED.match(text)]
    after = table_counts()
    print(  # noqa: T201 - the figures the lead quotes (run with -s)
        f"\n[{connection.vendor}] concurrent log POST: attempts={THREADS} statuses={dict(statuses)} "
        f"already_logged_messages={len(refused)} logged_segments={after['logged_segments']} "
        f"entries={after['entries']} campaign_entries={after['campaign_entries']}"
    )
    assert statuses == Counter({302: THREADS})
    logged = LoggedSegment.objects.get()
    assert {response["Location"] for response in outcomes} == {logged.get_absolute_url()}
    assert len(refused) == THREADS - 1, texts
    assert after == {"logged_segments": 1, "entries": LINES, "campaign_entries": 1, "segments": 0, "lines": 0}


# --- case 2 ---------------------------------------------------------------------------------


def test_a_second_log_in_sequence_is_refused_and_changes_nothing():
    segment = build_segment()
    user = make_user("marketing")
    first = segment_services.segment_log(user=user, segment=segment)
    counts = table_counts()

    for again in (segment, segment.no):
        with pytest.raises(segment_services.SegmentAlreadyLogged) as error:
            segment_services.segment_log(user=user, segment=again)
        match = ALREADY_LOGGED.match(error.value.messages[0])
        assert match and match.groups()[:2] == (segment.no, user.get_username())
        assert error.value.logged_segment.pk == first.logged_segment.pk

    assert (
        table_counts()
        == counts
        == {
            "logged_segments": 1,
            "entries": LINES,
            "campaign_entries": 1,
            "segments": 0,
            "lines": 0,
        }
    )


def test_a_second_log_post_redirects_to_the_same_logged_segment_with_who_logged_it():
    segment = build_segment()
    url = log_url(segment)
    if url is None:
        pytest.skip("URL segments:segment_log (the Log page) does not exist yet")
    user = make_user("marketing")
    client = Client()
    client.force_login(user)
    form = {"segment_uuid": str(segment.uuid)}

    first = client.post(url, form)
    counts = table_counts()
    second = client.post(url, form)

    logged = LoggedSegment.objects.get()
    assert (first.status_code, second.status_code) == (302, 302)
    assert first["Location"] == second["Location"] == logged.get_absolute_url()
    texts = [str(message) for message in get_messages(second.wsgi_request)]
    match = ALREADY_LOGGED.match(texts[-1])
    assert match and match.groups()[:2] == (segment.no, user.get_username()), texts
    assert table_counts() == counts


# --- case 4 ---------------------------------------------------------------------------------

HOLD = 0.5  # seconds the log keeps its transaction open after inserting the entries


def edit_add(segment: Segment, contact: Contact, line_no: int):
    return segment_services.segment_add_contact(user=COMMAND_LINE, segment=segment.no, contact=contact)


def edit_remove(segment: Segment, contact: Contact, line_no: int):
    return segment_services.segment_remove_line(user=COMMAND_LINE, segment=segment.no, line_no=line_no)


def edit_set(segment: Segment, contact: Contact, line_no: int):
    return segment_services.segment_set_line(
        user=COMMAND_LINE, segment=segment.no, line_no=line_no, values={"description": "Changed meanwhile"}
    )


def edit_undo(segment: Segment, contact: Contact, line_no: int):
    return segment_services.segment_undo(user=COMMAND_LINE, segment=segment.no)


@pytest.mark.parametrize("edit", [edit_add, edit_remove, edit_set, edit_undo], ids=lambda f: f.__name__)
def test_a_line_edit_during_the_log_waits_then_is_refused_and_no_line_is_lost(edit, monkeypatch):
    segment = build_segment(lines=10)
    newcomer = Contact.objects.create(no="LATE01", name="Latecomer", type=ContactType.COMPANY)
    committed = dict(SegmentLine.objects.filter(segment=segment).values_list("pk", "contact_id"))
    line_no = SegmentLine.objects.filter(segment=segment).order_by("line_no").values_list("line_no", flat=True)[0]
    entries_inserted = threading.Event()

    def hold_the_log(logged):
        entries_inserted.set()
        time.sleep(HOLD)

    monkeypatch.setattr(log_service, "insert_select", after_entries(hold_the_log))
    waited: list[float] = []

    def log():
        return segment_services.segment_log(user=COMMAND_LINE, segment=segment.no)

    def edit_meanwhile():
        assert entries_inserted.wait(timeout=30), "the log never reached its hook"
        started = time.monotonic()
        try:
            return edit(segment, newcomer, line_no)
        finally:
            waited.append(time.monotonic() - started)

    result, edited = run_together(log, edit_meanwhile)

    # Every committed line either still exists or has exactly one entry; no other line appeared.
    still_there = set(SegmentLine.objects.filter(pk__in=committed).values_list("pk", flat=True))
    logged_lines = Counter(
        InteractionLogEntry.objects.filter(segment_line_id__in=committed).values_list("segment_line_id", flat=True)
    )
    for pk in committed:
        assert (pk in still_there) != (logged_lines[pk] == 1), f"line {pk} lost or logged twice"
    assert max(logged_lines.values()) == 1
    if edit is edit_add and not isinstance(edited, BaseException):  # its line was committed: where is it?
        kept = SegmentLine.objects.filter(contact=newcomer).exists()
        assert kept or InteractionLogEntry.objects.filter(contact=newcomer).exists(), "the added line was lost"
    assert isinstance(result, segment_services.LogResult), result
    assert isinstance(edited, segment_services.SegmentAlreadyLogged), edited
    assert ALREADY_LOGGED.match(edited.messages[0])
    assert waited[0] >= HOLD / 2, f"the edit did not wait for the log ({waited[0]:.3f} s)"
    assert not SegmentLine.objects.filter(segment_id=segment.pk).exists()
    entries = InteractionLogEntry.objects.filter(logged_segment=result.logged_segment)
    assert dict(entries.values_list("segment_line_id", "contact_id")) == committed
    assert set(entries.values_list("description", flat=True)) == {"Concurrent log"}
    assert not InteractionLogEntry.objects.filter(contact=newcomer).exists()


def test_a_log_racing_a_line_edit_either_includes_the_edit_or_refuses_it():
    """Released together, with no hook: whichever goes first, the other sees its result."""
    newcomer = Contact.objects.create(no="LATE02", name="Latecomer", type=ContactType.COMPANY)
    for round_ in range(3):
        segment = small_segment(f"R{round_}")
        before = set(SegmentLine.objects.filter(segment=segment).values_list("pk", flat=True))

        result, edited = run_together(
            lambda segment=segment: segment_services.segment_log(user=COMMAND_LINE, segment=segment.no),
            lambda segment=segment: segment_services.segment_add_contact(
                user=COMMAND_LINE, segment=segment.no, contact=newcomer
            ),
        )

        assert isinstance(result, segment_services.LogResult), result
        logged = set(
            InteractionLogEntry.objects.filter(logged_segment=result.logged_segment).values_list(
                "segment_line_id", flat=True
            )
        )
        if isinstance(edited, segment_services.SegmentAlreadyLogged):
            assert logged == before  # the edit came second: refused, nothing written
        else:
            assert not isinstance(edited, BaseException), edited
            assert logged > before and len(logged) == len(before) + 1  # the edit came first: its line was logged
        assert not SegmentLine.objects.filter(segment_id=segment.pk).exists()


def small_segment(tag: str) -> Segment:
    city = f"CITY{tag}"
    Contact.objects.bulk_create(
        Contact(no=f"{tag}{i:03d}", name=f"{tag} {i}", type=ContactType.COMPANY, city=city) for i in range(10)
    )
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Concurrent log",
            "interaction_template": make_template(correspondence_type=""),
            "salesperson": make_salesperson("ANN"),
        },
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"city={city}")
    return segment

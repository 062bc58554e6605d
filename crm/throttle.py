"""Login throttling on top of django-axes: the failures a log-in try meets, the wait they impose,
the lock-out page and the client address (settings: "Login throttling").

django-axes keeps one AccessAttempt row per (username, address, user agent) with its count of
failures and the time of the last one; a row counts while that time is within the cool-off
(AXES_COOLOFF_TIME). A username's failures are the sum of its rows, an address's the sum of its
rows; a try meets the larger of the two (AXES_LOCKOUT_PARAMETERS: either one locks). The rows live
in the database, so every web process sees the same counts.

Before the lock-out the tries are slowed: from CRM_LOGIN_SLOWDOWN_AFTER failures on, a try made
sooner than CRM_LOGIN_DELAY_SECONDS (doubling with each further failure) after the last failure is
refused without checking the password and without being counted. Nothing sleeps: a web worker
answers at once.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import (
    get_client_ip_address,
    get_client_parameters,
    get_client_user_agent,
    get_client_username,
    get_cool_off,
    get_credentials,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


@dataclass(frozen=True)
class LoginFailures:
    """The recent failures a try for `username` from this client meets."""

    count: int  # the larger of the username's and the address's
    last: datetime | None  # the latest failure of either
    locked_until: datetime | None  # when the lock-out ends, if the count has reached the limit


def login_failures(request: HttpRequest, username: str | None) -> LoginFailures:
    """The failures counted against `username` and the request's address (one query)."""
    now = timezone.now()
    cool_off = get_cool_off(request)
    credentials = get_credentials(username)
    groups = get_client_parameters(
        username, get_client_ip_address(request), get_client_user_agent(request), request, credentials
    )
    rows = list(
        AccessAttempt.objects.filter(reduce(or_, (Q(**group) for group in groups)), attempt_time__gte=now - cool_off)
        .order_by("-attempt_time")
        .values("username", "ip_address", "user_agent", "attempt_time", "failures_since_start")
    )
    limit = get_failure_limit(request, credentials)
    count = 0
    locked_until = None
    for group in groups:
        # Newest first: the group stays locked while its rows newer than some time still reach the
        # limit, so the lock ends a cool-off after the row at which the running total reaches it.
        total = 0
        for row in rows:
            if all(row[field] == value for field, value in group.items()):
                total += row["failures_since_start"]
                if total >= limit and (total - row["failures_since_start"]) < limit:
                    until = row["attempt_time"] + cool_off
                    locked_until = max(locked_until or until, until)
        count = max(count, total)
    return LoginFailures(count=count, last=rows[0]["attempt_time"] if rows else None, locked_until=locked_until)


def login_wait_seconds(failures: LoginFailures, now: datetime | None = None) -> int:
    """Seconds a try must still wait after the last failure; 0 when it may go ahead.

    A locked-out client is not made to wait here: its try goes on to axes, which answers with
    the lock-out page.
    """
    free = settings.CRM_LOGIN_SLOWDOWN_AFTER
    if failures.last is None or failures.count < free or failures.locked_until is not None:
        return 0
    delay = min(
        settings.CRM_LOGIN_DELAY_SECONDS * 2 ** (failures.count - free),
        settings.CRM_LOGIN_MAX_DELAY_SECONDS,
    )
    remaining = (failures.last + timedelta(seconds=delay) - (now or timezone.now())).total_seconds()
    return max(0, math.ceil(remaining))


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The page a locked-out try gets (AXES_LOCKOUT_CALLABLE): 429, with when the lock ends.

    It names neither the account nor whether it exists: a made-up username locks the same way.
    """
    failures = login_failures(request, get_client_username(request, credentials))
    context = {"locked_until": failures.locked_until, "minutes": None}
    if failures.locked_until is not None:
        seconds = max(1, math.ceil((failures.locked_until - timezone.now()).total_seconds()))
        context["minutes"] = math.ceil(seconds / 60)
    response = render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    if context["minutes"] is not None:
        response["Retry-After"] = str(seconds)
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The address a try comes from (AXES_CLIENT_IP_CALLABLE).

    REMOTE_ADDR; behind our reverse proxy (DJANGO_BEHIND_PROXY) the last X-Forwarded-For entry,
    the one the proxy appended: earlier entries are whatever the client sent, never trusted.
    """
    candidates = [request.META.get("REMOTE_ADDR", "")]
    if settings.CRM_BEHIND_PROXY:
        candidates.insert(0, request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
    return None


class LoginAttemptHandler(AxesDatabaseHandler):
    """axes' database handler, except what a successful log-in clears (AXES_RESET_ON_SUCCESS).

    axes clears every failure of the username and every failure of the address; then anyone with
    an account could wipe the address's count between guesses at other accounts. Here a log-in
    clears only its own username's failures from its own address.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count

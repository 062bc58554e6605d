"""GET /healthz: is the web process up and can it reach the database?

For load balancers and container health checks: no login, no session, no cookie, no CSRF, and
exempt from the https redirect (SECURE_REDIRECT_EXEMPT), so a probe over plain http gets the
answer. Django's host check still applies: the probe must send a Host from ALLOWED_HOSTS
(scripts/healthcheck.py does). The answer says only whether the database answered; the reason
of a failure goes to the server log, never to the client.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@login_not_required
@csrf_exempt
@never_cache
@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health check: the database is unavailable", exc_info=True)
        return JsonResponse({"database": "unavailable"}, status=503)
    return JsonResponse({"database": "ok"})

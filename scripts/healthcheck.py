"""Container health check: exit 0 when GET /healthz on this container answers 200.

Plain http to 127.0.0.1:$PORT (default 8000); /healthz is exempt from the https redirect. The
request carries a Host from DJANGO_ALLOWED_HOSTS, since Django's host check stays on for the
probe too. Standard library only: the slim image has no curl, and Django need not load.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_host() -> str:
    """The first allowed host name (".example.com" → "example.com"; "*" or none → localhost)."""
    hosts = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0].lstrip(".") if hosts else ""
    return host if host and host != "*" else "localhost"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    request = urllib.request.Request(url, headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=float(os.environ.get("HEALTHCHECK_TIMEOUT", "5"))) as response:
            body = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(errors="replace"), error.code
    except OSError as error:
        sys.stderr.write(f"healthcheck: {url}: {error}\n")
        return 1
    sys.stdout.write(f"healthcheck: {status} {body}\n")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())

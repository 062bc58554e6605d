"""`python -m bench.command_timer ARGUMENTS…`: run `manage.py ARGUMENTS…` and print, as the last
line of stderr, `bench-seconds: S`, the seconds from the end of start-up (Python, Django's
set-up, the command's imports: what an empty command costs) to the command's end.

The benchmark's whole-command rows (bench/command_operations.py) read that figure: on a busy
machine the start-up of two processes varies by seconds, so subtracting a separately measured
start-up buried the steps in noise.
"""

from __future__ import annotations

import os
import sys
import time


def main(arguments: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django
    from django.core.management import ManagementUtility, get_commands, load_command_class

    django.setup()
    load_command_class(get_commands()[arguments[0]], arguments[0])  # the command's imports
    started = time.perf_counter()
    status = 0
    try:
        ManagementUtility(["manage.py", *arguments]).execute()
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    from django.db import connections

    connections.close_all()
    print(f"bench-seconds: {time.perf_counter() - started:.6f}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

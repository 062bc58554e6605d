"""What the `logged_segment` and `interactions` commands share: the subcommand dispatch and the
error contract of CONTRACT.md ("General rules"), the same as `manage.py segment`'s.

Bad input raises `Failed` (or a ValidationError from a service, whose transaction it rolled
back): every problem goes to stderr on its own line, nothing is written, and the exit status
is 1 (argparse's own rejections exit 2). Not a command itself: Django skips modules whose name
starts with "_".
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from segments.management.commands.segment import Failed, validation_problems

__all__ = ["BatchCommand", "Failed"]


class BatchCommand(BaseCommand):
    """Runs `do_<subcommand>(options)` and turns bad input into stderr lines and exit status 1."""

    def handle(self, *args, subcommand: str, **options: Any) -> None:
        run = getattr(self, "do_" + subcommand.replace("-", "_"))
        try:
            run(options)
        except Failed as exc:
            problems = exc.problems
        except ValidationError as exc:
            problems = validation_problems(exc)
        except PermissionDenied as exc:
            problems = [f"permission denied: {exc}"]
        else:
            return
        for problem in problems:
            self.stderr.write(problem)
        raise CommandError(f"nothing was written ({len(problems)} problem(s))", returncode=1)

    def out(self, value) -> None:
        """A number, id or line of a listing, alone on its line."""
        self.stdout.write(str(value))

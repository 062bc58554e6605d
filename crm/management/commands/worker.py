"""`manage.py worker`: the task worker to run in production (crm.worker).

django-tasks-db's `db_worker` with the same options, plus a watch thread (heartbeat, self-healing
of jobs whose worker stopped, the daily housekeeping) and a graceful stop: on SIGTERM the running
delivery or merge finishes its current batch, hands the rest back to the queue and the worker
exits (well within 30 s); another worker goes on. Run two or more, on one or several machines.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from crm.worker import CrmWorker


class Command(DbWorkerCommand):
    help = (
        "Run a task worker: background deliveries and merges, self-healing of jobs whose worker "
        "stopped, daily housekeeping. SIGTERM stops it gracefully."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        # A reloading worker cannot stop its jobs gracefully: never by default, even under DEBUG.
        parser.set_defaults(reload=False)

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload, max_tasks,
               worker_id, exclude_queues, **options) -> None:  # fmt: skip
        self.configure_logging(verbosity)
        if reload:
            raise CommandError("--reload is not supported: a reloaded worker cannot hand its jobs back.")
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = CrmWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        worker.configure_signals()
        worker.run()

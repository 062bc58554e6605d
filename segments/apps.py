from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        # segments sits on the top floor: it plugs what it owns into the pages, rules and
        # commands of crm and interactions, which never import it.
        from crm import hooks
        from interactions import hooks as interaction_hooks

        from . import log_jobs, merge, selectors
        from .models import RemovedSegmentLine, SegmentLine
        from .services import logged_segment_follow_up

        hooks.register(hooks.contact_history, hooks.HistoryCounter(SegmentLine, selectors.contact_lines))
        hooks.register(hooks.contact_history, hooks.HistoryCounter(RemovedSegmentLine, selectors.contact_removed_lines))
        interaction_hooks.register_follow_up(logged_segment_follow_up)
        hooks.register(hooks.job_healers, merge.merge_jobs_heal)
        hooks.register(hooks.job_healers, log_jobs.log_jobs_heal)

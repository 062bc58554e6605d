from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InteractionsConfig(AppConfig):
    name = "interactions"
    verbose_name = _("Interactions")

    def ready(self) -> None:
        # crm never imports interactions: what crm's pages and rules show of interactions is
        # plugged in here (crm.hooks, ContactFilterSet.extend).
        from crm import hooks

        from . import delivery, filters, panels, print_pdf, selectors, services, storage
        from .models import InteractionLogEntry

        filters.extend_contact_criteria()
        hooks.register(
            hooks.contact_card_panels,
            hooks.Panel("interactions/includes/contact_interactions.html", panels.contact_interactions_panel),
        )
        hooks.register(
            hooks.campaign_panels,
            hooks.Panel("interactions/includes/campaign_templates.html", panels.campaign_templates_panel),
        )
        hooks.register(
            hooks.contact_history, hooks.HistoryCounter(InteractionLogEntry, selectors.contact_history_entries)
        )
        hooks.register_anonymiser(services.contacts_anonymise)
        hooks.register_logged_segment_describer(panels.logged_segments_describe)
        hooks.register(hooks.job_healers, delivery.deliveries_heal)
        hooks.register(hooks.job_healers, print_pdf.print_pdfs_heal)
        hooks.register(hooks.housekeepers, ("unreferenced files", storage.unreferenced_files_prune))

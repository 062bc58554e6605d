from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Contacts")

    def ready(self):
        from crm import (
            checks,  # noqa: F401  (registers the deploy checks)
            languages,  # noqa: F401  (keeps a user's own language in the session at log-in)
        )

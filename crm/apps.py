from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Contacts")

    def ready(self):
        from django.apps import apps

        from crm import (
            checks,  # noqa: F401  (registers the deploy checks)
            languages,  # noqa: F401  (keeps a user's own language in the session at log-in)
        )

        if apps.is_installed("axes"):  # django-axes' app has no name of its own to translate
            apps.get_app_config("axes").verbose_name = _("Log-in attempts")

from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Contacts"

    def ready(self):
        from crm import checks  # noqa: F401  (registers the deploy checks)

"""English in this CRM: Django's English formats, with ISO dates in pages (2026-12-06,
2026-12-06 14:05) as the pages always showed them."""

from django.conf.locale.en.formats import *  # noqa: F403

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"

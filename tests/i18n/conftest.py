"""The every-page walk's fixtures (tests/browser/test_every_page_browser.py): `pages`, every page
of the app found from the URLconf in a small world with one of everything (`world`), with the
Outbox routed (`outbox`). And no language left active after a test: a page rendered in Danish
leaves Danish active in the thread (LocaleMiddleware does not undo it), which a later test's
English would meet."""

import pytest
from django.utils import translation

from tests.browser.test_every_page_browser import outbox, pages, world  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _no_language_left_active():
    yield
    translation.deactivate()

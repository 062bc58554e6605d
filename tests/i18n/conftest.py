"""The every-page walk's fixtures (tests/browser/test_every_page_browser.py): `pages`, every page
of the app found from the URLconf in a small world with one of everything (`world`), with the
Outbox routed (`outbox`)."""

from tests.browser.test_every_page_browser import outbox, pages, world  # noqa: F401 (fixtures)

"""The error pages inside the layout (templates/403.html, 404.html, 500.html) and the favicon."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import path, reverse

from crm import urls as root_urls
from crm.views.errors import CUSTOM_PERMISSIONS, missing_permission_text
from tests.catalog import translated
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("secret detail: password=hunter2")


def broken_context(request):
    raise RuntimeError("a context processor that fails")


# A root URLconf with a view that raises, for the 500 page.
urlpatterns = [path("boom/", boom), *root_urls.urlpatterns]
handler403 = root_urls.handler403
handler500 = root_urls.handler500


def test_404_is_inside_the_layout_with_the_navigation(marketing_client):
    page = marketing_client.get("/no-such-page/")
    text = page.content.decode()
    assert page.status_code == 404
    assert "This page does not exist" in text
    assert 'class="brand"' in text and 'rel="icon"' in text  # the layout
    assert 'nav class="mainnav"' in text and reverse("segments:segment_list") in text  # the navigation
    assert 'href="/"' in text  # the way back: the start page


def test_404_without_login_shows_the_layout_without_navigation():
    page = Client().get("/no-such-page/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "This page does not exist" in text and 'class="brand"' in text
    assert "mainnav" not in text


def test_403_says_which_permission_is_missing_in_plain_words(viewer_client):
    url = reverse("segments:segment_create")
    page = viewer_client.get(url, HTTP_REFERER="http://testserver/segments/")
    text = page.content.decode()
    assert page.status_code == 403
    assert "You do not have permission to add segments." in text
    assert 'nav class="mainnav"' in text
    assert 'href="http://testserver/segments/"' in text  # back to where the user came from
    assert "segments.add_segment" not in text  # no code names


def test_403_names_a_service_permission_and_never_an_outside_referer(viewer_client):
    request = RequestFactory().get("/")
    assert missing_permission_text(request, PermissionDenied("segments.log_segment needed")) == (
        "You do not have permission to log segments."
    )
    assert missing_permission_text(request, PermissionDenied("crm.view_contact needed")) == (
        "You do not have permission to view contacts."
    )
    assert missing_permission_text(request, PermissionDenied()) == "You do not have permission to open this page."
    page = viewer_client.get(reverse("segments:segment_create"), HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in page.content.decode()


def test_500_renders_in_the_layout_without_details_even_when_context_processors_fail(settings):
    # All through pytest-django's `settings` (an @override_settings beside it would leave its
    # values behind after the test: this module's URLconf in the next tests).
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                "context_processors": [
                    *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                    f"{__name__}.broken_context",
                ]
            },
        }
    ]
    client = Client(raise_request_exception=False)
    client.force_login(make_user("marketing"))
    page = client.get("/boom/")
    text = page.content.decode()
    assert page.status_code == 500
    assert "Something went wrong on our side" in text
    assert 'class="brand"' in text and "css/crm.css" in text  # the layout, styled
    assert "hunter2" not in text and "RuntimeError" not in text and "Traceback" not in text


def test_the_favicon_is_linked_and_favicon_ico_leads_to_it():
    client = Client()
    login_page = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login_page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"] == "/static/favicon.svg"
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200
    assert b"<svg" in b"".join(svg.streaming_content if svg.streaming else [svg.content])


def test_500_answers_with_a_bare_page_when_even_the_layout_cannot_render(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    # Static files never collected: the layout's {% static %} fails; the error page still answers.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    client = Client(raise_request_exception=False)
    client.force_login(make_user("viewer"))
    page = client.get("/boom/")
    text = page.content.decode()
    assert page.status_code == 500
    assert "Something went wrong on our side" in text and "hunter2" not in text


def test_every_permission_of_the_models_has_a_whole_sentence_of_its_own():
    declared = {
        f"{model._meta.app_label}.{codename}"
        for model in apps.get_models()
        if model._meta.app_label in {"crm", "interactions", "segments"}
        for codename, _name in model._meta.permissions
    }
    assert declared and declared <= set(CUSTOM_PERMISSIONS)


def test_the_403_sentence_is_one_translated_sentence_per_permission_with_the_models_translated_name():
    request = RequestFactory().get("/")
    sentence = "You do not have permission to view %(things)s."
    with translated("da", {sentence: "Du må ikke se %(things)s."}):
        # Django's own catalogue names its User model in Danish.
        assert missing_permission_text(request, PermissionDenied("auth.view_user needed")) == "Du må ikke se brugere."
    two = missing_permission_text(request, PermissionDenied("crm.view_contact, segments.log_segment needed"))
    assert two == "You do not have permission to view contacts. You do not have permission to log segments."


def test_a_permission_without_a_sentence_is_named_as_its_model_declares_it():
    request = RequestFactory().get("/")
    Permission.objects.create(
        codename="approve_contact", name="Can approve contacts", content_type=ContentType.objects.get(model="contact")
    )
    assert missing_permission_text(request, PermissionDenied("crm.approve_contact needed")) == (
        "You do not have the permission “Can approve contacts”."
    )


def test_the_bare_500_page_speaks_the_browsers_language(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    client = Client(raise_request_exception=False)
    client.force_login(make_user("viewer"))
    with translated("fi", {"Something went wrong on our side": "Jokin meni vikaan meidän päässämme"}):
        page = client.get("/boom/", HTTP_ACCEPT_LANGUAGE="fi")
    text = page.content.decode()
    assert page.status_code == 500
    assert "<html lang='fi'>" in text and "Jokin meni vikaan meidän päässämme" in text


def test_the_404_page_speaks_the_users_language(marketing_client):
    danish = {"This page does not exist": "Denne side findes ikke", "Error %(code)s": "Fejl %(code)s"}
    with translated("da", danish):
        text = marketing_client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert '<html lang="da">' in text and "Denne side findes ikke" in text and "Fejl 404" in text

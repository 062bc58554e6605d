"""The start page at "/", named `home` outside the segments namespace (LOGIN_REDIRECT_URL and
the brand link use it). Included by the root URLconf by name, so crm imports nothing of segments."""

from django.urls import path

from .start_views import StartView

urlpatterns = [path("", StartView.as_view(), name="home")]

"""Interaction pages: logged segments (SPEC F5), the interaction log (F6), single interactions (F8).

Every action is a POST to its own URL that redirects (post/redirect/get).
"""

from django.urls import path  # noqa: F401  (the pages add their paths here)

app_name = "interactions"
urlpatterns: list = []

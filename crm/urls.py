"""Root URLs: the pages of every app, login and Django admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from crm.views.health import healthz
from crm.views.login import LoginView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="crm:contact_list", permanent=False), name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("crm.page_urls")),
    path("", include("segments.urls")),
    path("", include("interactions.urls")),
]

"""Root URLs: the pages of every app, login and Django admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from crm.views.health import healthz
from crm.views.login import LoginView


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the SVG icon."""
    return redirect(static("favicon.svg"))


handler403 = "crm.views.errors.permission_denied"
handler500 = "crm.views.errors.server_error"

urlpatterns = [
    path("", include("segments.start_urls")),  # the start page, named "home"
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("crm.page_urls")),
    path("", include("segments.urls")),
    path("", include("interactions.urls")),
]

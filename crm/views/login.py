"""The log-in page: Django's, with the throttled form (crm/forms.py: LoginForm)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from ..forms import LoginForm


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429  # Too Many Requests: the form says how long to wait
        return response

"""The user's own profile page: the language of the pages and the test e-mail address.
Any signed-in user may open their own; nobody else's is reachable here (admins use Django admin)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import View

from ..languages import remember_language
from ..profile import ProfileForm, profile_initial, save_profile


class ProfileView(View):
    template_name = "crm/profile.html"

    def get(self, request) -> HttpResponse:
        form = ProfileForm(initial=profile_initial(request.user), user=request.user)
        return TemplateResponse(request, self.template_name, {"form": form})

    def post(self, request) -> HttpResponse:
        form = ProfileForm(request.POST, user=request.user)
        if not form.is_valid():
            return TemplateResponse(request, self.template_name, {"form": form}, status=400)
        language = form.cleaned_data["language"]
        save_profile(user=request.user, language=language, test_email=form.cleaned_data["test_email"])
        remember_language(request, language)
        # The message is read on the next page, in the language just chosen.
        translation.activate(language or translation.get_language_from_request(request))
        messages.success(request, _("Your profile was saved."))
        return redirect("crm:profile")

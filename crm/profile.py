"""The profile page's form and its one write: a user's language and test e-mail address."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Profile
from .untrusted import CheckedForm


class ProfileForm(CheckedForm):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        # Each language in its own name, so a user finds theirs whatever the page speaks.
        choices=[("", _("The language of my browser")), *settings.LANGUAGES],
        help_text=_("The language of the pages. Batch commands and exports keep English."),
    )
    test_email = forms.EmailField(
        label=_("E-mail address for test e-mails"),
        required=False,
        max_length=254,
        help_text=_("Where “Send a test to me” sends. Empty: the e-mail address of your user (%(email)s)."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["test_email"]
        field.help_text = field.help_text % {"email": user.email or _("none")}


def profile_initial(user) -> dict[str, str]:
    """The form's values: what the user chose (blank when they never saved the page)."""
    row = Profile.objects.filter(user=user).values("language", "test_email").first()
    return row or {"language": "", "test_email": ""}


def save_profile(*, user, language: str, test_email: str) -> Profile:
    """Keep the user's choices (one row per user; saving twice changes nothing more)."""
    profile, _created = Profile.objects.update_or_create(
        user=user, defaults={"language": language, "test_email": test_email}
    )
    return profile

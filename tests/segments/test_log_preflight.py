"""The Log's delivery pre-flight counts its problems set-based (segments/services/log.py, issue 13):
salutation formulas per line language, lines without an address kept apart."""

from __future__ import annotations

import pytest

from crm.models import CorrespondenceType
from crm.permissions import COMMAND_LINE
from segments import services
from segments.services.log import segment_log_preflight
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_salesperson,
    make_salutation,
    make_template,
)

pytestmark = pytest.mark.django_db


def test_formulas_are_checked_in_each_lines_language_and_lines_without_address_apart():
    english, french = make_language("EN"), make_language("FR")
    template = make_template(language=english, correspondence_type="")
    for language in (english, french):
        attach_word_template(template, "{{ salutation_formal }},", language=language)
    mister = make_salutation("MR", {("EN", "formal"): "Dear Mr %surname"})
    salesperson = make_salesperson()
    contacts = {
        "fine": make_company(language=english, salutation=mister, email="a@x.test", salesperson=salesperson),
        "french": make_company(language=french, salutation=mister, email="b@x.test", salesperson=salesperson),
        "none": make_company(language=english, salutation=None, email="c@x.test", salesperson=salesperson),
        "no_address": make_company(language=french, salutation=mister, email="", salesperson=salesperson),
    }
    segment = services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Letters",
            "interaction_template": template,
            "correspondence_type": CorrespondenceType.EMAIL,
            "ignore_contact_correspondence_type": True,
        },
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="")

    preflight = segment_log_preflight(segment=segment, deliver=True)

    assert preflight.problems == []
    assert (preflight.entries, preflight.emails, preflight.letters) == (4, 4, 0)
    formula, address = (
        [problem for problem in preflight.delivery_problems if "salutation formula" in problem],
        [problem for problem in preflight.delivery_problems if "e-mail address" in problem],
    )
    assert len(formula) == 1 and formula[0].startswith("2 lines have no formal salutation formula")
    assert contacts["french"].no in formula[0] and contacts["none"].no in formula[0]
    assert contacts["fine"].no not in formula[0] and contacts["no_address"].no not in formula[0]
    assert len(address) == 1 and contacts["no_address"].no in address[0]
    assert len(preflight.delivery_problems) == 2

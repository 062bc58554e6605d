"""The set-up import (CONTRACT.md `import_setup`): reference data, interaction groups and templates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.importing import ImportFailed
from crm.models import Campaign, Country, Language, Salesperson, Salutation, SalutationFormula
from crm.permissions import COMMAND_LINE
from interactions.management.commands import import_setup
from interactions.models import InteractionGroup, InteractionTemplate, InteractionTemplateLanguage
from interactions.setup_import import setup_import
from tests.crm import test_transfer_commands
from tests.crm.test_transfer_commands import call, call_failing, write
from tests.factories import make_country, make_interaction_group, make_language, make_template

pytestmark = pytest.mark.django_db

exit_status = test_transfer_commands.exit_status  # the fixture

FIXTURE = Path(__file__).parent.parent / "fixtures" / "transfer" / "setup.json"


def count_queries(func) -> int:
    with CaptureQueriesContext(connection) as captured:
        func()
    return len(captured)


# --- set-up import ---------------------------------------------------------------------------

SETUP = {
    # Templates first: references resolve whatever the order of the keys.
    "interaction_templates": [
        {
            "code": "LETTER",
            "group": "LETTERS",
            "description": "Spring letter",
            "unit_cost": "12.50",
            "unit_duration": 5,
            "information_flow": "outbound",
            "initiated_by": "us",
            "correspondence_type": "hard_copy",
            "ignore_contact_correspondence_type": True,
            "language": "NLD",
            "campaign": "CP0001",
            "campaign_target": True,
            "campaign_response": False,
        },
        {"code": "CALL", "group": "CALLS", "description": "Phone call", "unit_cost": 0.5, "correspondence_type": None},
    ],
    "campaigns": [
        {
            "no": "CP0001",
            "description": "Spring",
            "starting_date": "2026-03-01",
            "ending_date": "2026-05-31",
            "salesperson": "SP9",
        }
    ],
    "countries": [{"code": "NL", "name": "Netherlands"}, {"code": "BE", "name": "Belgium"}],
    "languages": [{"code": "NLD", "name": "Dutch"}, {"code": "ENU", "name": "English"}],
    "territories": [{"code": "WEST", "name": "West"}],
    "industry_groups": [{"code": "IT", "name": "IT"}],
    "business_relations": [{"code": "CUST", "name": "Customer"}],
    "mailing_groups": [{"code": "NEWS", "name": "Newsletter"}],
    "job_responsibilities": [{"code": "CEO", "name": "Chief executive"}],
    "salespeople": [{"code": "SP9", "name": "Sam Seller", "email": "sam@example.com"}],
    "salutations": [
        {
            "code": "FORMAL",
            "description": "Formal",
            "formulas": [
                {"language": "NLD", "type": "formal", "formula": "Geachte %first_name %surname"},
                {"language": None, "type": "informal", "formula": "Hi %first_name"},
            ],
        }
    ],
    "interaction_groups": [{"code": "LETTERS", "description": "Letters"}, {"code": "CALLS", "description": "Calls"}],
}


def setup_state() -> dict:
    models = (
        Country,
        Language,
        Salesperson,
        Salutation,
        SalutationFormula,
        InteractionGroup,
        InteractionTemplate,
        InteractionTemplateLanguage,
        Campaign,
    )
    return {model.__name__: sorted(map(repr, model.objects.values_list())) for model in models}


def setup_failure(data) -> list[str]:
    with pytest.raises(ImportFailed) as info:
        setup_import(user=COMMAND_LINE, data=data)
    return info.value.errors


def test_setup_import_writes_every_section_and_resolves_references_in_any_order():
    counts = setup_import(user=COMMAND_LINE, data=SETUP)

    assert counts["countries"] == 2 and counts["interaction_templates"] == 2 and counts["salutations"] == 1
    letter = InteractionTemplate.objects.get(code="LETTER")
    assert letter.group_id == "LETTERS" and letter.campaign.no == "CP0001" and letter.language_id == "NLD"
    assert (letter.unit_cost, letter.unit_duration) == (Decimal("12.50"), Decimal("5.00"))
    assert (letter.information_flow, letter.initiated_by, letter.correspondence_type) == ("outbound", "us", "hard_copy")
    assert letter.ignore_contact_correspondence_type and letter.campaign_target and not letter.campaign_response
    call = InteractionTemplate.objects.get(code="CALL")
    assert call.correspondence_type == "" and call.unit_cost == Decimal("0.50") and call.campaign_id is None
    row = InteractionTemplateLanguage.objects.get(template=letter)
    assert (row.language_id, row.description) == ("NLD", "Spring letter")
    assert not InteractionTemplateLanguage.objects.filter(template=call).exists()
    campaign = Campaign.objects.get(no="CP0001")
    assert str(campaign.starting_date) == "2026-03-01" and campaign.salesperson_id == "SP9"
    assert Salesperson.objects.get(code="SP9").email == "sam@example.com"
    formulas = {(f.language_id, f.type): f.formula for f in SalutationFormula.objects.all()}
    assert formulas == {("NLD", "formal"): "Geachte %first_name %surname", (None, "informal"): "Hi %first_name"}


def test_setup_import_is_idempotent():
    setup_import(user=COMMAND_LINE, data=SETUP)
    before = setup_state()

    counts = setup_import(user=COMMAND_LINE, data=SETUP)

    assert setup_state() == before  # updated_at included: nothing was rewritten
    assert counts["languages"] == 2


def test_setup_import_upserts_by_code_and_keeps_what_the_file_does_not_mention():
    setup_import(user=COMMAND_LINE, data=SETUP)
    make_country("DE")
    campaign_updated = Campaign.objects.get(no="CP0001").updated_at

    setup_import(
        user=COMMAND_LINE,
        data={
            "countries": [{"code": "NL", "name": "Nederland"}],
            "interaction_templates": [{"code": "LETTER", "campaign": None, "language": "ENU"}],
            "salutations": [
                {"code": "FORMAL", "formulas": [{"language": "NLD", "type": "formal", "formula": "Beste"}]}
            ],
        },
    )

    assert dict(Country.objects.values_list("code", "name")) == {"BE": "Belgium", "DE": "Country", "NL": "Nederland"}
    letter = InteractionTemplate.objects.get(code="LETTER")
    assert letter.campaign_id is None and letter.description == "Spring letter" and letter.unit_cost == Decimal("12.5")
    assert sorted(InteractionTemplateLanguage.objects.filter(template=letter).values_list("language", flat=True)) == [
        "ENU",
        "NLD",
    ]
    assert SalutationFormula.objects.get(language="NLD").formula == "Beste"
    assert SalutationFormula.objects.count() == 2
    assert Campaign.objects.get(no="CP0001").updated_at == campaign_updated


def test_setup_import_keeps_an_existing_template_language_row():
    group = make_interaction_group("G1")
    template = make_template("T1", group=group)
    make_language("NLD")
    InteractionTemplateLanguage.objects.create(template=template, language_id="NLD", description="Eigen", subject="S")

    setup_import(user=COMMAND_LINE, data={"interaction_templates": [{"code": "T1", "language": "NLD"}]})

    row = InteractionTemplateLanguage.objects.get(template=template)
    assert (row.description, row.subject) == ("Eigen", "S")


BAD_SETUP = [
    (
        {"interaction_templates": [{"code": "T", "group": "XX", "description": "D"}]},
        'interaction_templates[0].group: unknown code "XX"',
    ),
    ({"interaction_templates": [{"code": "T", "description": "D"}]}, "interaction_templates[0].group: required"),
    ({"interaction_templates": [{"code": "T", "group": "G1"}]}, "interaction_templates[0].description: required"),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "campaign": "CP9"}]},
        'interaction_templates[0].campaign: unknown campaign "CP9"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "language": "XX"}]},
        'interaction_templates[0].language: unknown code "XX"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": "12,50"}]},
        'interaction_templates[0].unit_cost: not a number "12,50"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": -1}]},
        "interaction_templates[0].unit_cost: must be a number of 0 or more",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_duration": "1.234"}]},
        "interaction_templates[0].unit_duration: at most 2 decimal places",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "unit_cost": True}]},
        "interaction_templates[0].unit_cost: expected a number or a decimal string",
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "information_flow": "sideways"}]},
        'interaction_templates[0].information_flow: unknown value "sideways" (use outbound or inbound or null)',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "initiated_by": "nobody"}]},
        'interaction_templates[0].initiated_by: unknown value "nobody"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "correspondence_type": "fax"}]},
        'interaction_templates[0].correspondence_type: unknown value "fax"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "campaign_target": "yes"}]},
        'interaction_templates[0].campaign_target: expected true or false, not "yes"',
    ),
    (
        {"interaction_templates": [{"code": "T", "group": "G1", "description": "D", "colour": "red"}]},
        'interaction_templates[0]: unknown field "colour"',
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"type": "formal", "formula": "Dear %firstname"}]}]},
        "salutations[0].formulas[0].formula: unknown placeholder(s) %firstname (use %first_name %middle_name",
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"type": "polite", "formula": "Dear"}]}]},
        'salutations[0].formulas[0].type: unknown value "polite" (use formal or informal)',
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"formula": "Dear"}]}]},
        "salutations[0].formulas[0].type: required (formal or informal)",
    ),
    (
        {"salutations": [{"code": "S", "formulas": [{"language": "XX", "type": "formal", "formula": "Dear"}]}]},
        'salutations[0].formulas[0].language: unknown code "XX"',
    ),
    (
        {
            "salutations": [
                {
                    "code": "S",
                    "formulas": [{"type": "formal", "formula": "Dear"}, {"type": "formal", "formula": "Hello"}],
                }
            ]
        },
        "salutations[0].formulas[1]: a second formal formula for language blank (first at index 0)",
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "starting_date": "2026-05-01", "ending_date": "2026-04-01"}]},
        "campaigns[0].ending_date: 2026-04-01 is before the starting date 2026-05-01",
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "starting_date": "01-05-2026"}]},
        'campaigns[0].starting_date: not a date "01-05-2026" (use YYYY-MM-DD)',
    ),
    (
        {"campaigns": [{"no": "CP1", "description": "D", "salesperson": "NOSUCH"}]},
        'campaigns[0].salesperson: unknown code "NOSUCH"',
    ),
    ({"campaigns": [{"description": "D"}]}, "campaigns[0].no: required"),
    ({"countries": [{"code": "N L", "name": "x"}]}, 'countries[0].code: "N L": Use letters, digits'),
    ({"countries": [{"code": "TOOLONGCODE1", "name": "x"}]}, "countries[0].code: longer than 10 characters (12)"),
    ({"countries": [{"name": "x"}]}, "countries[0].code: required"),
    ({"countries": [{"code": "NL", "name": 5}]}, "countries[0].name: expected a string"),
    (
        {"countries": [{"code": "NL"}, {"code": "NL"}]},
        'countries[1].code: "NL" appears more than once (first at index 0)',
    ),
    ({"countries": ["NL"]}, "countries[0]: expected an object"),
    ({"countries": {"code": "NL"}}, "countries: expected a list"),
    ({"salespeople": [{"code": "S1", "email": "nope"}]}, "salespeople[0].email: Enter a valid email address."),
    ({"currencies": []}, 'unknown section "currencies"'),
]


@pytest.mark.parametrize(("data", "expected"), BAD_SETUP, ids=[b[1][:50] for b in BAD_SETUP])
def test_setup_import_refuses_bad_input_by_path_and_writes_nothing(data, expected):
    make_interaction_group("G1")
    before = setup_state()

    errors = setup_failure({"countries": [{"code": "OK", "name": "Fine"}], **data})

    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert setup_state() == before


def test_setup_import_reports_every_problem_and_refuses_a_non_object():
    errors = setup_failure(
        {"countries": [{"code": ""}], "interaction_templates": [{"code": "T", "group": "XX", "description": "D"}]}
    )
    assert errors == ["countries[0].code: required", 'interaction_templates[0].group: unknown code "XX"']
    assert setup_failure([1, 2]) == ["expected a JSON object whose keys are sections (countries, languages, …)"]


def test_setup_import_dry_run_writes_nothing():
    before = setup_state()

    counts = setup_import(user=COMMAND_LINE, data=SETUP, dry_run=True)

    assert counts["countries"] == 2
    assert setup_state() == before


def test_setup_import_runs_a_fixed_number_of_queries(django_assert_max_num_queries):
    big = json.loads(json.dumps(SETUP))
    big["countries"] = [{"code": f"C{n}", "name": f"Country {n}"} for n in range(300)]
    big["interaction_templates"] += [
        {"code": f"T{n}", "group": "CALLS", "description": f"T {n}", "language": "ENU"} for n in range(300)
    ]
    small = count_queries(lambda: setup_import(user=COMMAND_LINE, data=SETUP))
    with django_assert_max_num_queries(small + 2):
        setup_import(user=COMMAND_LINE, data=big)


# --- import_setup ----------------------------------------------------------------------------


def test_import_setup_imports_the_fixture_file_and_is_idempotent():
    path = str(FIXTURE)

    out, err = call("import_setup", path)
    again, _ = call("import_setup", path)

    assert out.startswith("imported: ") and "countries 3" in out and "interaction_templates 2" in out
    assert again == out and err == ""
    assert InteractionTemplate.objects.get(code="NEWSLTR").campaign.no == "CP0001"


def test_import_setup_bad_data_lists_problems_exits_1_and_writes_nothing(tmp_path, capsys, exit_status):
    path = write(
        tmp_path,
        "s.json",
        json.dumps(
            {
                "countries": [{"code": "NL", "name": "Netherlands"}],
                "interaction_templates": [{"code": "T1", "group": "XX", "description": "x"}, {"code": "T2"}],
            }
        ),
    )

    status = exit_status(import_setup, "import_setup", path)

    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.splitlines()[:3] == [
        'interaction_templates[0].group: unknown code "XX"',
        "interaction_templates[1].group: required: every template belongs to an interaction group",
        "interaction_templates[1].description: required",
    ]
    assert captured.out == ""
    assert not Country.objects.exists()


def test_import_setup_invalid_json_names_line_and_column(tmp_path):
    path = write(tmp_path, "s.json", '{\n  "countries": [\n    {"code": "NL",}\n  ]\n}\n')

    _out, err, error = call_failing("import_setup", path)

    assert err.startswith("line 3 column 19: not valid JSON")
    assert error.returncode == 1


def test_import_setup_dry_run_writes_nothing(tmp_path):
    path = write(tmp_path, "s.json", json.dumps({"countries": [{"code": "NL", "name": "Netherlands"}]}))

    out, _err = call("import_setup", path, "--dry-run")

    assert out == "dry run, nothing written: countries 1\n"
    assert not Country.objects.exists()

"""Django admin: every model of crm and interactions, built for a million contacts."""

from __future__ import annotations

import datetime
import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone as django_timezone

from crm.models import (
    Campaign,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    NumberSeries,
    SalutationFormula,
)
from crm.permissions import COMMAND_LINE
from interactions.documents import document_create
from interactions.models import (
    ContactAnonymisation,
    Delivery,
    DeliveryItem,
    InteractionComment,
    InteractionTemplateLanguage,
)
from interactions.unsubscribe import count_request
from segments import services as segment_services
from tests.factories import (
    make_campaign,
    make_company,
    make_country,
    make_industry_group,
    make_interaction_group,
    make_job_responsibility,
    make_language,
    make_mailing_group,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
    make_territory,
)

pytestmark = pytest.mark.django_db

APP_MODELS = [model for label in ("crm", "interactions") for model in apps.get_app_config(label).get_models()]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def one_of_everything(db):
    """At least one row of every model, so change pages and lists have something to show."""
    company = make_company(no="CO1", name="Acme", country=make_country("NL"), salesperson=make_salesperson("JO"))
    person = make_person(company=company, no="PE1", language=make_language("EN"), territory=make_territory("N"))
    address = ContactAltAddress.objects.create(contact=company, code="A", city="Nice")
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=address, starting_date=datetime.date(2025, 1, 1)
    )
    ContactIndustryGroup.objects.create(contact=company, industry_group=make_industry_group("IT"))
    ContactBusinessRelation.objects.create(
        contact=company, business_relation=apps.get_model("crm", "BusinessRelation").objects.create(code="CUST")
    )
    ContactMailingGroup.objects.create(contact=person, mailing_group=make_mailing_group("NEWS"))
    ContactJobResponsibility.objects.create(contact=person, job_responsibility=make_job_responsibility("BUY"))
    make_salutation("M", formulas={(None, "formal"): "Dear %surname"})
    template = make_template("LETTER", campaign=make_campaign(no="CP0001"), group=make_interaction_group("G"))
    InteractionTemplateLanguage.objects.create(template=template, language=make_language("EN"), subject="Hi")
    segment = segment_services.segment_create(
        user=COMMAND_LINE,
        values={
            "description": "Admin test",
            "interaction_template": template,
            "salesperson": person.salesperson or company.salesperson,
        },
    )
    segment_services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query=f"no={company.no}")
    logged = segment_services.segment_log(user=COMMAND_LINE, segment=segment).logged_segment
    entry = logged.interactions.first()
    InteractionComment.objects.create(entry=entry, comment="Called back")
    ContactAnonymisation.objects.create(contact=person)
    document_create(data=b"PK", file_name="letter.docx", content_type="x")
    now = django_timezone.now()
    apps.get_model("crm", "WorkerProcess").objects.create(worker_id="w1", started_at=now, seen_at=now)
    apps.get_model("crm", "Chore").objects.create(name="housekeeping", last_run_at=now)
    keeper = apps.get_model("auth", "User").objects.create_user("keeper")
    apps.get_model("crm", "UserPreference").objects.create(user=keeper, key="worksheet.steps", value="open")
    apps.get_model("crm", "Profile").objects.create(user=keeper, language="da", test_email="keeper@example.com")
    apps.get_model("crm", "ConsentChange").objects.create(
        contact=person, channel="email", state="withdrawn", at=now, source="phone call"
    )
    delivery = Delivery.objects.create(logged_segment=logged, state="finished", total=1, failed=1)
    DeliveryItem.objects.create(delivery=delivery, entry=entry, status="error", error="refused")
    count_request("192.0.2.1")  # the unsubscribe page's rate limit
    return {"company": company, "person": person}


def test_every_model_of_crm_and_interactions_is_in_admin():
    missing = [model._meta.label for model in APP_MODELS if not admin.site.is_registered(model)]
    assert missing == []


def test_every_foreign_key_in_admin_is_autocomplete_or_limited(db):
    """A foreign key shown as a plain <select> would list every row of the target."""
    plain = []
    for model in APP_MODELS:
        model_admin = admin.site._registry[model]
        for field in model._meta.get_fields():
            limited = (*model_admin.autocomplete_fields, *model_admin.raw_id_fields)
            if field.many_to_one and field.concrete and field.name not in limited:
                plain.append(f"{model._meta.label}.{field.name}")
    assert plain == []


def test_every_admin_has_search_and_list_display():
    for model in APP_MODELS:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        assert model_admin.list_display != ("__str__",), model


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m._meta.label)
def test_list_add_and_change_pages_open_for_an_admin(admin_client_crm, one_of_everything, model):
    """History (logged segments, entries …) is read-only here: no add page; it changes through
    the services behind the pages and commands."""
    history = model._meta.app_label == "interactions" and model._meta.model_name not in {
        "interactiongroup",
        "interactiontemplate",
        "interactiontemplatelanguage",
    }
    # written by the workers; consent history only through crm.consent
    history = history or model._meta.label in {"crm.WorkerProcess", "crm.Chore", "crm.ConsentChange"}
    assert admin_client_crm.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client_crm.get(admin_url(model, "add")).status_code == (403 if history else 200)
    obj = model._default_manager.first()
    response = admin_client_crm.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    if history:
        assert b'name="_save"' not in response.content


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m._meta.label)
def test_list_search_and_filters_work(admin_client_crm, one_of_everything, model):
    response = admin_client_crm.get(admin_url(model, "changelist"), {"q": "A"})
    assert response.status_code == 200
    # every choice of every filter offered can be applied
    for spec in response.context["cl"].filter_specs:
        for choice in spec.choices(response.context["cl"]):
            query = choice["query_string"]
            assert admin_client_crm.get(admin_url(model, "changelist") + query).status_code == 200


def test_contact_list_never_counts_the_whole_table_and_joins_what_it_shows(
    admin_client_crm, django_assert_max_num_queries
):
    company = make_company(country=make_country("NL"), salesperson=make_salesperson())
    Contact.objects.bulk_create(
        [Contact(no=f"P{i:03d}", name=f"P {i}", type="person", company=company) for i in range(60)]
    )
    model_admin = admin.site._registry[Contact]
    assert model_admin.show_full_result_count is False
    assert set(model_admin.list_select_related) >= {"company", "country", "salesperson"}

    with django_assert_max_num_queries(20):
        response = admin_client_crm.get(admin_url(Contact, "changelist"), {"type__exact": "person"})

    assert response.status_code == 200
    assert response.context["cl"].show_full_result_count is False


def test_contacts_cannot_be_bulk_deleted_from_the_list(admin_client_crm, one_of_everything):
    def actions(model) -> list[str]:
        form = admin_client_crm.get(admin_url(model, "changelist")).context["action_form"]
        return [name for name, _label in form.fields["action"].choices] if form else []

    assert "delete_selected" in actions(apps.get_model("crm", "Country"))  # the default elsewhere
    assert "delete_selected" not in actions(Contact)
    company = one_of_everything["company"]
    response = admin_client_crm.post(
        admin_url(Contact, "changelist"), {"action": "delete_selected", "_selected_action": [company.pk]}
    )
    assert response.status_code in (200, 302)
    assert Contact.objects.filter(pk=company.pk).exists()


def test_contact_inlines_follow_the_type(admin_client_crm, one_of_everything):
    def inline_models(contact):
        response = admin_client_crm.get(admin_url(Contact, "change", contact.pk))
        return {inline.opts.model for inline in response.context["inline_admin_formsets"]}

    company_inlines = inline_models(one_of_everything["company"])
    assert {ContactAltAddress, ContactAltAddressDateRange, ContactIndustryGroup, ContactBusinessRelation} <= (
        company_inlines
    )
    assert ContactMailingGroup in company_inlines and ContactJobResponsibility not in company_inlines

    person_inlines = inline_models(one_of_everything["person"])
    assert {ContactJobResponsibility, ContactMailingGroup} <= person_inlines
    assert not {ContactIndustryGroup, ContactBusinessRelation} & person_inlines


def test_date_range_inline_offers_only_the_contacts_own_addresses(admin_client_crm, one_of_everything):
    other = make_company()
    ContactAltAddress.objects.create(contact=other, code="OTHER")

    response = admin_client_crm.get(admin_url(Contact, "change", one_of_everything["company"].pk))

    (date_ranges,) = [
        i for i in response.context["inline_admin_formsets"] if i.opts.model is ContactAltAddressDateRange
    ]
    choices = date_ranges.formset.form.base_fields["alt_address"].queryset
    assert [a.code for a in choices] == ["A"]


def test_company_autocomplete_offers_companies_only(admin_client_crm):
    make_company(no="CO1", name="Acme Inc")
    make_person(no="PE1", name="Acme Person")

    response = admin_client_crm.get(
        reverse("admin:autocomplete"),
        {"app_label": "crm", "model_name": "contact", "field_name": "company", "term": "Acme"},
    )

    assert response.status_code == 200
    results = json.loads(response.content)["results"]
    assert [r["text"] for r in results] == ["CO1 Acme Inc"]


def inline_management(response) -> dict:
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def test_admin_adds_a_contact_with_the_next_series_number_and_logs_it(admin_client_crm, admin_user):
    url = admin_url(Contact, "add")
    data = {"no": "", "type": "company", "name": "Acme", **inline_management(admin_client_crm.get(url))}

    response = admin_client_crm.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert contact.no == "CT000001"
    assert LogEntry.objects.filter(user=admin_user, object_id=str(contact.pk)).exists()


def test_admin_adds_a_campaign_with_the_next_series_number(admin_client_crm):
    response = admin_client_crm.post(admin_url(Campaign, "add"), {"no": "", "description": "Spring"})

    assert response.status_code == 302
    assert Campaign.objects.get().no == "CP0001"


def test_admin_refuses_a_campaign_ending_before_it_starts(admin_client_crm):
    response = admin_client_crm.post(
        admin_url(Campaign, "add"),
        {"no": "CP9", "description": "Bad", "starting_date": "2025-02-01", "ending_date": "2025-01-01"},
    )

    assert response.status_code == 200
    assert "The starting date must not be after the ending date." in response.content.decode()
    assert Campaign.objects.count() == 0


def test_number_series_are_editable_by_admins(admin_client_crm, admin_user):
    series = NumberSeries.objects.get(code="CONTACT")

    response = admin_client_crm.post(
        admin_url(NumberSeries, "change", series.pk), {"prefix": "K", "digits": "4", "last_no": "41"}
    )

    assert response.status_code == 302
    series.refresh_from_db()
    assert (series.prefix, series.digits, series.last_no) == ("K", 4, 41)
    assert LogEntry.objects.filter(user=admin_user, action_flag=CHANGE, object_id="CONTACT").exists()
    changelist = admin_client_crm.get(admin_url(NumberSeries, "changelist")).content.decode()
    assert "K0042" in changelist  # the next number


def test_salutation_has_its_formulas_inline_and_template_its_languages(admin_client_crm, one_of_everything):
    salutation_page = admin_client_crm.get(admin_url(apps.get_model("crm", "Salutation"), "change", "M"))
    assert SalutationFormula in {i.opts.model for i in salutation_page.context["inline_admin_formsets"]}

    template_page = admin_client_crm.get(
        admin_url(apps.get_model("interactions", "InteractionTemplate"), "change", "LETTER")
    )
    assert InteractionTemplateLanguage in {i.opts.model for i in template_page.context["inline_admin_formsets"]}


def test_reference_codes_cannot_be_renamed_once_saved(admin_client_crm):
    make_country("NL")
    response = admin_client_crm.get(admin_url(apps.get_model("crm", "Country"), "change", "NL"))
    assert "code" not in response.context["adminform"].form.fields


def test_admin_index_names_each_model_once(admin_client_crm):
    response = admin_client_crm.get(reverse("admin:index"))

    names = [model["name"] for app in response.context["app_list"] for model in app["models"]]
    assert len(names) == len(set(names)), sorted(names)
    assert "Industry groups" in names and "Contacts" in names

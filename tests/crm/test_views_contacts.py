"""Contact pages: list with criteria, card, create/edit with formsets, delete."""

from __future__ import annotations

import datetime
import html
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.filters import ContactFilterSet
from crm.models import (
    BusinessRelation,
    Contact,
    ContactAltAddress,
    ContactAltAddressDateRange,
    ContactBusinessRelation,
    ContactIndustryGroup,
    ContactJobResponsibility,
    ContactMailingGroup,
    NumberSeries,
)
from tests.factories import (
    bulk_contacts,
    make_company,
    make_country,
    make_industry_group,
    make_job_responsibility,
    make_mailing_group,
    make_person,
    make_salesperson,
)

pytestmark = pytest.mark.django_db

LIST = reverse("crm:contact_list")
TODAY = datetime.date.today


def text(response) -> str:
    return response.content.decode()


def detail_url(contact: Contact) -> str:
    return reverse("crm:contact_detail", args=[contact.pk])


def create_url(kind: str) -> str:
    return reverse("crm:contact_create", args=[kind])


def update_url(contact: Contact) -> str:
    return reverse("crm:contact_update", args=[contact.pk])


def delete_url(contact: Contact) -> str:
    return reverse("crm:contact_delete", args=[contact.pk])


# --- list -------------------------------------------------------------------------------


def make_sixty_contacts() -> list[Contact]:
    nl, seller = make_country("NL"), make_salesperson("SP")
    companies = [
        make_company(no=f"A{i:03d}", city="Utrecht", country=nl, salesperson=seller, email=f"c{i}@x.nl")
        for i in range(20)
    ]
    persons = [
        make_person(company=companies[i % 20], no=f"B{i:03d}", country=nl, salesperson=seller) for i in range(40)
    ]
    return companies + persons


def test_list_shows_the_total_and_the_first_50_contacts_by_number(viewer_client):
    make_sixty_contacts()

    response = viewer_client.get(LIST)

    assert response.status_code == 200
    page = text(response)
    assert "<strong>60</strong> contacts" in page
    rows = response.context["page_obj"].object_list
    assert len(rows) == 50
    assert [c.no for c in rows][:2] == ["A000", "A001"]
    assert "Page 1 of 2" in page


def test_list_counts_with_a_thousands_separator(viewer_client):
    bulk_contacts(1234)

    response = viewer_client.get(LIST)

    assert "<strong>1,234</strong> contacts" in text(response)


def test_list_row_shows_type_name_company_city_country_salesperson_email_and_links_to_the_card(viewer_client):
    company = make_company(no="CO1", name="Acme")
    person = make_person(
        company=company,
        no="PE1",
        name="Ann Lee",
        city="Utrecht",
        country=make_country("NL"),
        salesperson=make_salesperson("JO"),
        email="ann@acme.test",
    )

    page = text(viewer_client.get(LIST, {"no": "PE1"}))

    row = re.search(
        rf'<tr>\s*<td class="select-col">.*?</td>\s*<td class="nowrap"><a href="{detail_url(person)}">PE1</a>.*?</tr>',
        page,
        re.S,
    )
    assert row, page
    for expected in ('badge person">Person', "Ann Lee", "Acme", "Utrecht", ">NL<", ">JO<", "ann@acme.test"):
        assert expected in row.group(0)
    assert f'href="{detail_url(company)}"' in row.group(0)


def test_second_page_keeps_the_criteria(viewer_client):
    make_sixty_contacts()

    response = viewer_client.get(LIST, {"country": "NL", "page": "2"})

    assert len(response.context["page_obj"].object_list) == 10
    assert 'href="?country=NL&amp;page=1"' in text(response)


@pytest.mark.parametrize("page", ["999", "abc", "-1"])
def test_a_page_number_out_of_range_or_garbage_is_no_error(viewer_client, page):
    make_sixty_contacts()
    assert viewer_client.get(LIST, {"page": page}).status_code == 200


def test_list_query_count_is_constant(viewer_client, django_assert_max_num_queries):
    make_sixty_contacts()

    with django_assert_max_num_queries(8):
        response = viewer_client.get(LIST)
    assert response.status_code == 200
    with django_assert_max_num_queries(8):
        # rendering touches company, country and salesperson of every row: all joined already
        text(viewer_client.get(LIST, {"page": "2"}))


def test_list_query_count_with_every_kind_of_criterion_stays_constant(viewer_client, django_assert_max_num_queries):
    make_sixty_contacts()
    query = {"country": "NL", "salesperson": "SP", "company_no": "A000", "type": "person", "name": "Pat"}

    with django_assert_max_num_queries(11):
        response = viewer_client.get(LIST, query)
    assert response.context["page_obj"].paginator.count == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"country": "NOSUCH"}, "country: unknown code &quot;NOSUCH&quot;"),
        ({"fax": "1"}, "unknown filter name &quot;fax&quot;"),
        ({"type": "robot"}, "type: unknown type &quot;robot&quot;"),
        ({"company_no": "NOPE"}, "company_no: unknown company &quot;NOPE&quot;"),
    ],
)
def test_an_invalid_filter_shows_its_errors_with_status_400_and_no_rows(viewer_client, query, message):
    make_sixty_contacts()

    response = viewer_client.get(LIST, query)

    assert response.status_code == 400
    page = text(response)
    assert message in page
    assert "The filter is not valid, so no contacts are shown." in page
    assert "page_obj" not in response.context
    assert "<table" not in page


def test_active_filters_are_listed_with_a_link_removing_each(viewer_client):
    make_sixty_contacts()

    page = text(viewer_client.get(LIST, {"country": "NL", "type": "company", "name": ""}))

    assert "<strong>Country/region:</strong> NL" in page
    assert "<strong>Type:</strong> Company" in page
    assert f'href="{LIST}?type=company"' in page  # removes the country criterion
    assert f'href="{LIST}?country=NL"' in page  # removes the type criterion
    assert "<strong>Name contains:</strong>" not in page  # empty boxes are no criteria


def test_filter_form_is_in_the_sidebar_with_apply_and_code_lists(viewer_client):
    make_country("NL", name="Netherlands")

    page = text(viewer_client.get(LIST))

    assert '<aside class="card filters"' in page
    assert 'method="get"' in page and ">Apply</button>" in page
    # Code lists are searchable lists of boxes, not <select multiple> boxes (issue 16).
    assert re.search(
        r'<input type="checkbox" name="country" value="NL" id="id_country_0">\s*NL – Netherlands</label>', page
    )
    assert 'hx-get="/contacts/"' in page and 'hx-target="#contact-results"' in page


def summaries(page: str) -> list[str]:
    return re.findall(r"<summary>([^<]*)</summary>", page)


def test_the_filter_form_groups_come_from_the_one_definition(viewer_client, monkeypatch):
    page = text(viewer_client.get(LIST, {"city": "Utrecht"}))

    assert summaries(page) == ["Contact", "Address", "Marketing", "Classification", "Consent", "Interaction history"]
    assert re.search(r"<details open>\s*<summary>Contact</summary>", page)  # the first group is open
    assert re.search(r"<details open>\s*<summary>Address</summary>", page)  # a used group is open
    assert re.search(r"<details>\s*<summary>Marketing</summary>", page)

    # when the definition changes, the page follows it; names it leaves out go to "More"
    monkeypatch.setattr(ContactFilterSet, "GROUPS", (("Who", ("no", "name")),))
    page = text(viewer_client.get(LIST))

    assert summaries(page) == ["Who", "Interaction history", "More"]
    more = page[page.index("<summary>More</summary>") :]
    assert 'name="city"' in more and 'name="company_no"' in more and 'name="campaign"' not in more


def test_selected_codes_stay_selected_in_the_filter_form(viewer_client):
    make_country("NL", name="Netherlands")

    page = text(viewer_client.get(LIST, {"country": "NL"}))

    assert re.search(
        r'<input type="checkbox" name="country" value="NL" id="id_country_0" checked>\s*NL – Netherlands', page
    )


def test_htmx_request_from_the_filter_form_gets_only_the_results_block(viewer_client):
    make_sixty_contacts()
    headers = {"HX-Request": "true", "HX-Target": "contact-results"}

    response = viewer_client.get(LIST, {"type": "company"}, headers=headers)

    page = text(response)
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="contact-results"')
    assert "<html" not in page and "<aside" not in page
    assert "<strong>20</strong> contacts" in page
    assert response["HX-Push-Url"] == "/contacts/?type=company"  # the address bar follows the criteria

    response = viewer_client.get(LIST, {"type": "company", "name": "", "page": "2"}, headers=headers)
    assert response["HX-Push-Url"] == "/contacts/?type=company&page=2"  # empty boxes left out

    response = viewer_client.get(LIST, {"country": "XX"}, headers=headers)
    assert response.status_code == 400
    assert "unknown code &quot;XX&quot;" in text(response)
    assert "<html" not in text(response)


def test_buttons_follow_permissions(viewer_client, marketing_client):
    viewer_page = text(viewer_client.get(LIST))
    for label in ("New company", "New person", ">Import<", ">Export<"):
        assert label not in viewer_page

    marketing_page = text(marketing_client.get(LIST, {"type": "company"}))
    assert f'href="{create_url("company")}">New company' in marketing_page
    assert f'href="{create_url("person")}">New person' in marketing_page
    assert f'href="{reverse("crm:contact_import")}">Import' in marketing_page
    assert f'href="{reverse("crm:contact_export")}?type=company">Export' in marketing_page


def test_export_link_carries_the_criteria_but_not_the_page(marketing_client):
    make_sixty_contacts()

    page = text(marketing_client.get(LIST, {"country": "NL", "page": "2", "city": ""}))

    assert f'href="{reverse("crm:contact_export")}?country=NL">Export these' in page


# --- card -------------------------------------------------------------------------------


def test_company_card_shows_fields_classifications_and_its_persons(viewer_client):
    company = make_company(no="CO1", name="Acme", city="Utrecht", address="Dam 1", phone="+31 1", email="a@acme.test")
    ContactIndustryGroup.objects.create(contact=company, industry_group=make_industry_group("IT"))
    ContactBusinessRelation.objects.create(
        contact=company, business_relation=BusinessRelation.objects.create(code="CUST")
    )
    ContactMailingGroup.objects.create(contact=company, mailing_group=make_mailing_group("NEWS"))
    person = make_person(company=company, name="Ann Lee", job_title="Buyer")

    response = viewer_client.get(detail_url(company))

    page = text(response)
    assert response.status_code == 200
    for expected in ("CO1 · Acme", "Dam 1", "Utrecht", "+31 1", "a@acme.test", ">IT<", ">CUST<", ">NEWS<"):
        assert expected in page
    assert "Ann Lee" in page and "Buyer" in page and f'href="{detail_url(person)}"' in page
    assert "1 person<" in page
    assert "Job responsibilities" not in page  # not a company classification


def test_company_card_caps_its_persons_and_links_to_all_of_them(viewer_client, django_assert_max_num_queries):
    company = make_company(no="BIG")
    Contact.objects.bulk_create(
        [Contact(no=f"P{i:04d}", name=f"P {i}", type="person", company=company) for i in range(40)]
    )

    with django_assert_max_num_queries(15):  # 14 + the consent history
        response = viewer_client.get(detail_url(company))

    page = text(response)
    assert "40 persons" in page
    assert len(response.context["card"].persons) == 25
    assert f'href="{LIST}?company_no=BIG&amp;type=person">Show all 40' in page


def test_person_card_links_its_company_and_shows_job_responsibilities(viewer_client):
    company = make_company(no="CO1", name="Acme")
    person = make_person(company=company, first_name="Ann", surname="Lee", name="Ann Lee")
    ContactJobResponsibility.objects.create(contact=person, job_responsibility=make_job_responsibility("BUY"))

    page = text(viewer_client.get(detail_url(person)))

    assert f'<a href="{detail_url(company)}">CO1 · Acme</a>' in page
    assert ">BUY<" in page
    assert "Industry groups</dt>" not in page
    assert "Persons</h2>" not in page


def test_card_shows_alternate_addresses_their_ranges_and_the_one_active_today(viewer_client):
    company = make_company()
    today = timezone.localdate()
    summer = ContactAltAddress.objects.create(contact=company, code="SUMMER", city="Nice")
    old = ContactAltAddress.objects.create(contact=company, code="OLD", city="Bonn")
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=summer, starting_date=today - datetime.timedelta(days=3)
    )
    ContactAltAddressDateRange.objects.create(
        contact=company,
        alt_address=old,
        starting_date=datetime.date(2020, 1, 1),
        ending_date=datetime.date(2020, 12, 31),
    )

    response = viewer_client.get(detail_url(company))

    page = text(response)
    assert "In use today: <strong>SUMMER</strong>" in page
    assert "2020-01-01 – 2020-12-31" in page
    assert f"{(today - datetime.timedelta(days=3)).isoformat()} – open-ended" in page
    assert page.count("active today") == 1
    assert response.context["card"].active_alt_address == summer


def test_card_says_plainly_when_a_contact_has_no_interactions(viewer_client):
    page = text(viewer_client.get(detail_url(make_company())))
    assert "<h2>Interactions</h2>" in page
    assert "No interactions recorded yet." in page


def test_card_edit_and_delete_buttons_follow_permissions(viewer_client, marketing_client):
    company = make_company()
    assert "Edit</a>" not in text(viewer_client.get(detail_url(company)))
    page = text(marketing_client.get(detail_url(company)))
    assert f'href="{update_url(company)}">Edit</a>' in page
    assert f'href="{delete_url(company)}">Delete</a>' in page


def test_card_of_a_missing_contact_is_404(viewer_client):
    assert viewer_client.get(reverse("crm:contact_detail", args=[999999])).status_code == 404


# --- create -----------------------------------------------------------------------------


def management(prefix: str, total: int = 1, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def post_data(**fields) -> dict:
    """A create/edit post: the contact's fields plus empty formsets (override with alt-/range- keys)."""
    data = {**management("alt"), **management("range")}
    data.update({key: value for key, value in fields.items()})
    return data


def test_create_company_takes_the_series_number_and_redirects_to_the_card(marketing_client):
    response = marketing_client.post(create_url("company"), post_data(name="Acme", city="Utrecht"))

    contact = Contact.objects.get()
    assert (contact.no, contact.type, contact.name, contact.city) == ("CT000001", "company", "Acme", "Utrecht")
    assert response.status_code == 302 and response["Location"] == detail_url(contact)
    assert "CT000001 Acme was created." in text(marketing_client.get(response["Location"]))


def test_create_with_a_typed_number_uses_it_and_a_taken_one_is_a_form_error(marketing_client):
    marketing_client.post(create_url("company"), post_data(no="ACME", name="Acme"))
    assert Contact.objects.filter(no="ACME").exists()

    response = marketing_client.post(create_url("company"), post_data(no="ACME", name="Copy"))

    assert response.status_code == 400
    assert response.context["form"].errors["no"] == ["Contact with this No. already exists."]
    assert "Nothing was saved." in text(response)
    assert Contact.objects.count() == 1


def test_create_form_for_a_company_has_no_person_fields_and_vice_versa(marketing_client):
    company_form = marketing_client.get(create_url("company")).context["form"]
    assert {"industry_groups", "business_relations", "mailing_groups"} <= set(company_form.fields)
    assert not {"first_name", "surname", "company_no", "job_responsibilities", "type"} & set(company_form.fields)

    person_form = marketing_client.get(create_url("person")).context["form"]
    assert {"first_name", "middle_name", "surname", "company_no", "job_responsibilities"} <= set(person_form.fields)
    assert not {"industry_groups", "business_relations", "type"} & set(person_form.fields)


def test_company_field_is_a_text_box_not_a_list_of_every_company(marketing_client):
    bulk_contacts(300)

    page = text(marketing_client.get(create_url("person")))

    assert 'name="company_no"' in page and 'type="text" name="company_no"' in page
    assert "Bulk " not in page


def test_an_unknown_contact_type_is_404(marketing_client):
    assert marketing_client.get(create_url("robot")).status_code == 404
    assert marketing_client.post(create_url("robot"), post_data(name="X")).status_code == 404
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "Ann Marie Smith"}, ("Ann Marie Smith", "Ann", "Marie", "Smith")),
        ({"first_name": "Jan", "surname": "van Dijk"}, ("Jan van Dijk", "Jan", "", "van Dijk")),
        # both typed: the parts win and rebuild the name
        (
            {"name": "Jan van Dijk", "first_name": "Jan", "surname": "van Dijk"},
            ("Jan van Dijk", "Jan", "", "van Dijk"),
        ),
    ],
)
def test_person_name_rule_on_create(marketing_client, fields, expected):
    response = marketing_client.post(create_url("person"), post_data(**fields))

    assert response.status_code == 302, response.context["form"].errors
    person = Contact.objects.get()
    assert (person.name, person.first_name, person.middle_name, person.surname) == expected


def test_person_without_name_or_parts_is_a_form_error(marketing_client):
    response = marketing_client.post(create_url("person"), post_data(job_title="Buyer"))

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["Type the name, or the first name and surname."]
    assert Contact.objects.count() == 0


def test_a_name_whose_split_part_would_be_too_long_is_a_form_error(marketing_client):
    name = "Johannes Maximiliaan Hendrikus Cornelis van Dijk"

    response = marketing_client.post(create_url("person"), post_data(name=name))

    assert response.status_code == 400
    (error,) = response.context["form"].errors["name"]
    assert "the first name would have 39 characters (at most 30)" in error
    assert Contact.objects.count() == 0


def test_person_name_rule_on_edit(marketing_client):
    person = make_person(name="Dr. Ann Lee", first_name="Ann", middle_name="", surname="Lee")
    base = {"version": person.updated_at.isoformat()}

    # nothing of the name changed: the name stays as it was, though it is not "first surname"
    marketing_client.post(update_url(person), post_data(**base, name="Dr. Ann Lee", first_name="Ann", surname="Lee"))
    person.refresh_from_db()
    assert person.name == "Dr. Ann Lee"

    # the name changed: the parts follow
    base["version"] = person.updated_at.isoformat()
    marketing_client.post(update_url(person), post_data(**base, name="Bo Chen", first_name="Ann", surname="Lee"))
    person.refresh_from_db()
    assert (person.first_name, person.middle_name, person.surname) == ("Bo", "", "Chen")

    # a part changed: the name is rebuilt
    base["version"] = person.updated_at.isoformat()
    marketing_client.post(
        update_url(person), post_data(**base, name="Bo Chen", first_name="Bo", middle_name="X.", surname="Chen")
    )
    person.refresh_from_db()
    assert person.name == "Bo X. Chen"


def test_person_with_a_company_no_is_linked_and_inherits_blank_fields(marketing_client):
    company = make_company(
        no="CO1", salesperson=make_salesperson("JO"), address="Dam 1", city="Amsterdam", phone="+31 20 1"
    )

    response = marketing_client.post(create_url("person"), post_data(name="Ann Lee", company_no="CO1", phone="+44 1"))

    assert response.status_code == 302
    person = Contact.objects.get(type="person")
    assert person.company_id == company.pk
    assert (person.salesperson_id, person.address, person.city) == ("JO", "Dam 1", "Amsterdam")
    assert person.phone == "+44 1"  # the person's own value stays


@pytest.mark.parametrize(
    ("company_no", "message"),
    [("NOPE", 'unknown company no. "NOPE"'), ("PE1", '"PE1" is a person, not a company')],
)
def test_company_no_must_name_a_company(marketing_client, company_no, message):
    make_person(no="PE1")

    response = marketing_client.post(create_url("person"), post_data(name="Ann Lee", company_no=company_no))

    assert response.status_code == 400
    assert response.context["form"].errors["company_no"] == [message]
    assert Contact.objects.count() == 1


def test_add_person_link_prefills_the_company_no(marketing_client):
    response = marketing_client.get(create_url("person"), {"company_no": "CO1"})
    assert 'name="company_no" value="CO1"' in text(response)


def test_classifications_are_saved_and_company_ones_cannot_be_posted_for_a_person(marketing_client):
    make_industry_group("IT")
    make_mailing_group("NEWS")
    make_job_responsibility("BUY")

    marketing_client.post(
        create_url("company"), post_data(name="Acme", industry_groups=["IT"], mailing_groups=["NEWS"])
    )
    company = Contact.objects.get(type="company")
    assert list(ContactIndustryGroup.objects.filter(contact=company).values_list("industry_group", flat=True)) == ["IT"]

    response = marketing_client.post(
        create_url("person"), post_data(name="Ann Lee", industry_groups=["IT"], job_responsibilities=["BUY"])
    )
    assert response.status_code == 302
    person = Contact.objects.get(type="person")
    assert not ContactIndustryGroup.objects.filter(contact=person).exists()
    assert ContactJobResponsibility.objects.filter(contact=person, job_responsibility="BUY").exists()


def test_unknown_classification_code_is_a_form_error(marketing_client):
    response = marketing_client.post(create_url("company"), post_data(name="Acme", mailing_groups=["NOPE"]))

    assert response.status_code == 400
    assert "mailing_groups" in response.context["form"].errors
    assert Contact.objects.count() == 0


def test_invalid_email_is_a_form_error_and_nothing_is_written(marketing_client):
    response = marketing_client.post(create_url("company"), post_data(name="Acme", email="not-an-address"))

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]
    assert Contact.objects.count() == 0
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0


def test_missing_number_series_is_a_form_error_not_a_500(marketing_client):
    NumberSeries.objects.filter(code="CONTACT").delete()

    response = marketing_client.post(create_url("company"), post_data(name="Acme"))

    assert response.status_code == 400
    assert "number series CONTACT is missing" in text(response)


def test_create_with_an_alternate_address_and_its_date_range(marketing_client):
    data = post_data(
        name="Acme",
        **{
            "alt-0-code": "SUMMER",
            "alt-0-city": "Nice",
            "range-0-alt_address_code": "SUMMER",
            "range-0-starting_date": "2025-06-01",
            "range-0-ending_date": "2025-08-31",
        },
    )

    response = marketing_client.post(create_url("company"), data)

    assert response.status_code == 302
    company = Contact.objects.get()
    address = ContactAltAddress.objects.get(contact=company)
    assert (address.code, address.city) == ("SUMMER", "Nice")
    date_range = ContactAltAddressDateRange.objects.get(contact=company)
    assert (date_range.alt_address_id, date_range.starting_date) == (address.pk, datetime.date(2025, 6, 1))


@pytest.mark.parametrize(
    ("ranges", "where", "message"),
    [
        (
            {"range-0-alt_address_code": "NOPE", "range-0-starting_date": "2025-01-01"},
            "field",
            'unknown alternate address code "NOPE" (this contact has: SUMMER)',
        ),
        (
            {
                "range-0-alt_address_code": "SUMMER",
                "range-0-starting_date": "2025-02-01",
                "range-0-ending_date": "2025-01-01",
            },
            "field",
            "The ending date must not be before the starting date.",
        ),
        (
            {
                "range-TOTAL_FORMS": "2",
                "range-0-alt_address_code": "SUMMER",
                "range-0-starting_date": "2025-01-01",
                "range-1-alt_address_code": "SUMMER",
                "range-1-starting_date": "2025-01-01",
            },
            "formset",
            "Two date ranges start on 2025-01-01; a starting date is unique per contact.",
        ),
    ],
)
def test_bad_date_ranges_are_form_errors_and_nothing_is_written(marketing_client, ranges, where, message):
    data = post_data(name="Acme", **{"alt-0-code": "SUMMER", "alt-0-city": "Nice"})
    data.update(ranges)

    response = marketing_client.post(create_url("company"), data)

    assert response.status_code == 400
    formset = response.context["forms"].date_ranges
    if where == "formset":
        assert formset.non_form_errors() == [message]
    else:
        assert message in [error for form in formset.forms for errors in form.errors.values() for error in errors]
    assert message.replace('"', "&quot;") in text(response)
    assert Contact.objects.count() == 0 and ContactAltAddress.objects.count() == 0


def test_two_alternate_addresses_with_one_code_are_a_form_error(marketing_client):
    data = post_data(name="Acme", **{"alt-TOTAL_FORMS": "2", "alt-0-code": "A", "alt-1-code": "A"})

    response = marketing_client.post(create_url("company"), data)

    assert response.status_code == 400
    assert response.context["forms"].alt_addresses.non_form_errors() == ['Two alternate addresses have the code "A".']


# --- edit -------------------------------------------------------------------------------


def edit_post(contact: Contact, **fields) -> dict:
    """The edit page's post as a browser would send it, with `fields` changed."""
    contact.refresh_from_db()
    data = {
        "version": contact.updated_at.isoformat(),
        "name": contact.name,
        **management("alt"),
        **management("range"),
    }
    data.update(fields)
    return data


def test_edit_form_shows_current_values_classifications_and_rows(marketing_client):
    company = make_company(name="Acme")
    ContactMailingGroup.objects.create(contact=company, mailing_group=make_mailing_group("NEWS"))
    ContactAltAddress.objects.create(contact=company, code="A", city="Nice")

    response = marketing_client.get(update_url(company))

    forms = response.context["forms"]
    assert forms.form.initial["mailing_groups"] == ["NEWS"]
    assert forms.form.fields["no"].disabled
    assert len(forms.alt_addresses.forms) == 2  # the stored one and an empty one
    page = text(response)
    assert 'value="A" readonly' in page or "readonly" in page
    assert '<option value="A"></option>' in page  # date range code suggestions


def test_edit_changes_fields_and_keeps_type_and_number(marketing_client):
    company = make_company(no="CO1", name="Acme")

    response = marketing_client.post(
        update_url(company), edit_post(company, name="Acme Ltd", no="OTHER", type="person", city="Oslo")
    )

    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.no, company.type, company.name, company.city) == ("CO1", "company", "Acme Ltd", "Oslo")


def test_edit_updates_deletes_and_adds_alternate_addresses(marketing_client):
    company = make_company()
    keep = ContactAltAddress.objects.create(contact=company, code="KEEP", city="Old")
    drop = ContactAltAddress.objects.create(contact=company, code="DROP", city="Bonn")
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=drop, starting_date=datetime.date(2024, 1, 1)
    )
    data = edit_post(
        company,
        **{
            **management("alt", total=3, initial=2),
            **management("range", total=2, initial=1),
            "alt-0-code": "DROP",
            "alt-0-city": "Bonn",
            "alt-0-DELETE": "on",
            "alt-1-code": "KEEP",
            "alt-1-city": "New",
            "alt-2-code": "NEW",
            "alt-2-city": "Added",
            # the range of the deleted address is left as it was: it goes with its address
            "range-0-alt_address_code": "DROP",
            "range-0-starting_date": "2024-01-01",
            "range-1-alt_address_code": "NEW",
            "range-1-starting_date": "2025-01-01",
        },
    )

    response = marketing_client.post(update_url(company), data)

    assert response.status_code == 302, response.context and response.context["forms"].date_ranges.errors
    assert dict(ContactAltAddress.objects.filter(contact=company).values_list("code", "city")) == {
        "KEEP": "New",
        "NEW": "Added",
    }
    assert ContactAltAddress.objects.get(code="KEEP").pk == keep.pk
    assert list(ContactAltAddressDateRange.objects.values_list("alt_address__code", "starting_date")) == [
        ("NEW", datetime.date(2025, 1, 1))
    ]


def test_a_changed_range_pointing_at_a_deleted_address_is_an_error(marketing_client):
    company = make_company()
    drop = ContactAltAddress.objects.create(contact=company, code="DROP")
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=drop, starting_date=datetime.date(2024, 1, 1)
    )
    data = edit_post(
        company,
        **{
            **management("alt", total=1, initial=1),
            **management("range", total=1, initial=1),
            "alt-0-code": "DROP",
            "alt-0-DELETE": "on",
            "range-0-alt_address_code": "DROP",
            "range-0-starting_date": "2024-02-01",
        },
    )

    response = marketing_client.post(update_url(company), data)

    assert response.status_code == 400
    assert 'the alternate address "DROP" is being deleted' in text(response).replace("&quot;", '"')
    assert ContactAltAddress.objects.filter(pk=drop.pk).exists()


def test_edit_after_someone_else_saved_is_refused_with_a_message(marketing_client):
    company = make_company(name="Acme")
    data = edit_post(company, name="Mine")
    Contact.objects.filter(pk=company.pk).update(name="Theirs", updated_at=timezone.now())

    response = marketing_client.post(update_url(company), data)

    assert response.status_code == 400
    assert "Someone else saved this contact while you were editing it." in text(response)
    assert Contact.objects.get(pk=company.pk).name == "Theirs"


def test_edit_of_a_missing_contact_is_404(marketing_client):
    assert marketing_client.get(reverse("crm:contact_update", args=[999999])).status_code == 404


# --- delete -----------------------------------------------------------------------------


def test_delete_page_says_what_goes_and_the_post_deletes_it(marketing_client):
    company = make_company(no="CO1")
    address = ContactAltAddress.objects.create(contact=company, code="A")
    ContactAltAddressDateRange.objects.create(
        contact=company, alt_address=address, starting_date=datetime.date(2025, 1, 1)
    )
    ContactMailingGroup.objects.create(contact=company, mailing_group=make_mailing_group())

    page = text(marketing_client.get(delete_url(company)))
    assert "1 alternate address<" in page and "1 date range " in page and "1 classification " in page
    assert Contact.objects.filter(pk=company.pk).exists()  # GET deletes nothing

    response = marketing_client.post(delete_url(company))

    assert response.status_code == 302 and response["Location"] == LIST
    assert not Contact.objects.filter(pk=company.pk).exists()
    assert ContactAltAddress.objects.count() == 0
    follow = text(marketing_client.get(LIST))
    assert "CO1 was deleted, with 1 alternate address(es), 1 date range(s) and 1 classification(s)." in follow


def test_delete_of_a_company_with_persons_is_refused_clearly(marketing_client):
    company = make_company(no="CO1")
    make_person(company=company)

    page = text(marketing_client.get(delete_url(company)))
    assert "This company cannot be deleted:" in page and "1 person still works for it" in page
    assert 'type="submit"' not in page.split("<main", 1)[1]

    response = marketing_client.post(delete_url(company))

    assert response.status_code == 302 and response["Location"] == detail_url(company)
    assert Contact.objects.filter(pk=company.pk).exists()
    assert "CO1 still has 1 person." in text(marketing_client.get(detail_url(company)))


def test_delete_of_a_missing_contact_is_404(marketing_client):
    assert marketing_client.post(reverse("crm:contact_delete", args=[999999])).status_code == 404


def test_htmx_is_told_to_show_a_400_answer(viewer_client):
    """htmx drops 4xx answers by default: the invalid-filter message would never appear."""
    page = text(viewer_client.get(LIST))

    config = json.loads(html.unescape(re.search(r'name="htmx-config" content=\'([^\']*)\'', page).group(1)))
    rules = config["responseHandling"]
    first_match = next(rule for rule in rules if re.fullmatch(rule["code"], "400"))
    assert first_match["swap"] is True


def test_a_post_without_the_formset_management_data_is_a_form_error_not_a_500(marketing_client):
    response = marketing_client.post(create_url("company"), {"name": "Acme"})

    assert response.status_code == 400
    assert "ManagementForm data is missing or has been tampered with" in text(response)
    assert Contact.objects.count() == 0


def test_every_problem_of_a_post_is_reported_at_once(marketing_client):
    data = post_data(
        name="Ann Lee",
        company_no="NOPE",
        email="bad",
        **{"range-0-alt_address_code": "X", "range-0-starting_date": "2025-01-01"},
    )

    response = marketing_client.post(create_url("person"), data)

    page = text(response).replace("&quot;", '"')
    assert 'unknown company no. "NOPE"' in page
    assert "Enter a valid email address." in page
    assert 'unknown alternate address code "X" (this contact has: none)' in page


def test_deferred_join_pages_match_plain_pagination():
    from django.core.paginator import Paginator

    from crm.filters import ContactFilterSet
    from crm.selectors import DeferredJoinPaginator, contact_list

    make_sixty_contacts()
    rows = contact_list(filterset=ContactFilterSet({"country": "NL"}))

    for number in (1, 2):
        deferred = DeferredJoinPaginator(rows, 25, orphans=5).page(number)
        plain = Paginator(rows, 25, orphans=5).page(number)
        assert [c.no for c in deferred.object_list] == [c.no for c in plain.object_list]
    assert len(DeferredJoinPaginator(rows, 25, orphans=10).page(2).object_list) == 35  # orphans join the last page

from django.urls import path

from .views import campaigns, contacts, profile, search, transfer

app_name = "crm"
urlpatterns = [
    path("contacts/", contacts.ContactListView.as_view(), name="contact_list"),
    path("contacts/search/", search.ContactSearchView.as_view(), name="contact_search"),
    path("contacts/new/<str:contact_type>/", contacts.ContactCreateView.as_view(), name="contact_create"),
    path("contacts/<int:pk>/", contacts.ContactDetailView.as_view(), name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.ContactUpdateView.as_view(), name="contact_update"),
    path("contacts/<int:pk>/delete/", contacts.ContactDeleteView.as_view(), name="contact_delete"),
    path("contacts/import/", transfer.contact_import, name="contact_import"),
    path("contacts/export/", transfer.contact_export, name="contact_export"),
    path("contacts/mailing-group/", contacts.ContactMailingGroupView.as_view(), name="contact_mailing_group"),
    path("profile/", profile.ProfileView.as_view(), name="profile"),
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetailView.as_view(), name="campaign_detail"),
]

"""Interaction pages: logged segments (SPEC F5), the interaction log (F6), single interactions (F8).

Every action is a POST to its own URL that redirects (post/redirect/get).
"""

from django.conf import settings
from django.urls import path

from .views import deliveries, entries, logged_segments, outbox
from .views import documents as document_views
from .views import templates as template_views
from .views import unsubscribe as unsubscribe_views

app_name = "interactions"
urlpatterns: list = [
    path("logged-segments/", logged_segments.LoggedSegmentListView.as_view(), name="logged_segment_list"),
    path(
        "logged-segments/cancel/",
        logged_segments.LoggedSegmentCancelView.as_view(),
        name="logged_segment_cancel_selected",
    ),
    path("logged-segments/<int:pk>/", logged_segments.LoggedSegmentDetailView.as_view(), name="logged_segment_detail"),
    path(
        "logged-segments/<int:pk>/cancel/",
        logged_segments.LoggedSegmentCancelView.as_view(),
        name="logged_segment_cancel",
    ),
    path(
        "logged-segments/<int:pk>/follow-up/",
        logged_segments.LoggedSegmentFollowUpView.as_view(),
        name="logged_segment_follow_up",
    ),
    path(
        "logged-segments/<int:pk>/delete/",
        logged_segments.LoggedSegmentDeleteView.as_view(),
        name="logged_segment_delete",
    ),
    path(
        "logged-segments/<int:pk>/resend/",
        deliveries.LoggedSegmentResendView.as_view(),
        name="logged_segment_resend",
    ),
    path("deliveries/<int:pk>/", deliveries.DeliveryDetailView.as_view(), name="delivery_detail"),
    path("deliveries/<int:pk>/resume/", deliveries.DeliveryResumeView.as_view(), name="delivery_resume"),
    path(
        "deliveries/<int:pk>/print-file/",
        deliveries.DeliveryPrintDocumentView.as_view(),
        name="delivery_print_document",
    ),
    path(
        "deliveries/<int:pk>/print-file.pdf",
        deliveries.DeliveryPrintPdfView.as_view(),
        name="delivery_print_pdf",
    ),
    path(
        "deliveries/<int:pk>/print-file/pdf/",
        deliveries.DeliveryPrintPdfMakeView.as_view(),
        name="delivery_print_pdf_make",
    ),
    path(
        "deliveries/<int:pk>/print-file/pdf/state/",
        deliveries.DeliveryPrintPdfStateView.as_view(),
        name="delivery_print_pdf_state",
    ),
    path("interactions/", entries.EntryListView.as_view(), name="entry_list"),
    path("interactions/new/", entries.EntryCreateView.as_view(), name="entry_create"),
    path("interactions/statistics/", entries.StatisticsView.as_view(), name="statistics"),
    path("interactions/cancel/", entries.EntrySetCanceledView.as_view(), name="entry_set_canceled"),
    path("interactions/evaluate/", entries.EntryEvaluateView.as_view(), name="entry_evaluate"),
    path("interactions/delete-canceled/", entries.EntryDeleteCanceledView.as_view(), name="entry_delete_canceled"),
    path("interactions/<int:pk>/", entries.EntryDetailView.as_view(), name="entry_detail"),
    path("interactions/<int:pk>/comments/", entries.EntryCommentAddView.as_view(), name="entry_comment_add"),
    path("interactions/<int:pk>/document/", document_views.EntryDocumentView.as_view(), name="entry_document"),
    path(
        "interactions/<int:pk>/word-template/",
        document_views.EntryDocumentView.as_view(kind="word_template"),
        name="entry_word_template",
    ),
    # The public one-click unsubscribe page (no login, no CSRF: interactions.views.unsubscribe).
    path("u/<str:token>/", unsubscribe_views.unsubscribe, name="unsubscribe"),
    path("interaction-templates/", template_views.TemplateListView.as_view(), name="template_list"),
    path(
        "interaction-templates/sample-letter.docx",
        template_views.TemplateSampleView.as_view(),
        name="template_sample",
    ),
    # Template codes may hold "/" (crm.models.CODE_VALIDATOR), so they are matched as paths; the
    # action routes come first.
    path(
        "interaction-templates/<path:code>/word/upload/",
        template_views.TemplateDocumentUploadView.as_view(),
        name="template_upload",
    ),
    path(
        "interaction-templates/<path:code>/word/<int:document_id>/",
        template_views.TemplateDocumentDownloadView.as_view(),
        name="template_document",
    ),
    path("interaction-templates/<path:code>/", template_views.TemplateDetailView.as_view(), name="template_detail"),
]

if settings.DEBUG:  # make run's outbox (issue 14, part 6): never routed without DEBUG
    urlpatterns += [
        path("outbox/", outbox.outbox_list, name="outbox"),
        path("outbox/<str:file_name>/<int:index>/", outbox.outbox_detail, name="outbox_detail"),
        path("outbox/<str:file_name>/<int:index>/html/", outbox.outbox_html, name="outbox_html"),
        path(
            "outbox/<str:file_name>/<int:index>/attachments/<int:number>/",
            outbox.outbox_attachment,
            name="outbox_attachment",
        ),
    ]

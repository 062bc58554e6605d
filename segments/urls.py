"""Segment pages: the list, a new segment, and the worksheet (by segment no.) with its actions.

Every action is a POST to its own URL and redirects back to the worksheet (post/redirect/get).
"""

from django.urls import path

from . import bulk_views, delete_views, log_job_views, log_views, merge_views, test_mail_views, views
from . import document_views as documents
from .drift_views import SegmentDriftView, SegmentRefreshView

app_name = "segments"
urlpatterns = [
    path("segments/", views.SegmentListView.as_view(), name="segment_list"),
    path("segments/new/", views.SegmentCreateView.as_view(), name="segment_create"),
    path("segments/add-contacts/", bulk_views.AddToSegmentView.as_view(), name="contacts_add_to_segment"),
    path("segments/<str:no>/", views.SegmentDetailView.as_view(), name="segment_detail"),
    path("segments/<str:no>/delete/", delete_views.SegmentDeleteView.as_view(), name="segment_delete"),
    path("segments/<str:no>/header/", views.SegmentHeaderView.as_view(), name="segment_header"),
    path("segments/<str:no>/preview/", views.SegmentPreviewView.as_view(), name="segment_preview"),
    path("segments/<str:no>/drift/", SegmentDriftView.as_view(), name="segment_drift"),
    path("segments/<str:no>/refresh/", SegmentRefreshView.as_view(), name="segment_refresh"),
    path("segments/<str:no>/steps/", views.SegmentStepView.as_view(), name="segment_step"),
    path("segments/<str:no>/undo/", views.SegmentUndoView.as_view(), name="segment_undo"),
    path("segments/<str:no>/log/", log_views.SegmentLogView.as_view(), name="segment_log"),
    path("segments/<str:no>/log/test-mail/", test_mail_views.SegmentTestMailView.as_view(), name="segment_test_mail"),
    path(
        "segments/<str:no>/drop-withdrawn/",
        log_views.SegmentDropWithdrawnView.as_view(),
        name="segment_drop_withdrawn",
    ),
    path("log-jobs/<int:pk>/", log_job_views.LogJobView.as_view(), name="log_job"),
    path("segments/<str:no>/merge/", merge_views.SegmentMergeView.as_view(), name="segment_merge"),
    path("merge-jobs/<int:pk>/", merge_views.MergeJobView.as_view(), name="merge_job"),
    path("merge-jobs/<int:pk>/download/", merge_views.MergeJobDownloadView.as_view(), name="merge_job_download"),
    path("merge-jobs/<int:pk>/restart/", merge_views.MergeJobRestartView.as_view(), name="merge_job_restart"),
    path("segments/<str:no>/lines/add/", views.AddContactView.as_view(), name="segment_add_contact"),
    path("segments/<str:no>/lines/<int:line_no>/edit/", views.LineEditView.as_view(), name="line_edit"),
    path("segments/<str:no>/lines/<int:line_no>/row/", views.LineRowView.as_view(), name="line_row"),
    path("worksheet-panels/", views.PanelPreferenceView.as_view(), name="worksheet_panel"),
    path("segments/<str:no>/lines/<int:line_no>/reset/", views.LineResetView.as_view(), name="line_reset"),
    path("segments/<str:no>/lines/<int:line_no>/remove/", views.LineRemoveView.as_view(), name="line_remove"),
    path("segments/<str:no>/documents/", documents.SegmentDocumentsView.as_view(), name="segment_documents"),
    path(
        "segments/<str:no>/documents/upload/",
        documents.SegmentLanguageDocumentView.as_view(),
        name="segment_document_upload",
    ),
    path(
        "segments/<str:no>/documents/<int:document_id>/",
        documents.SegmentDocumentDownloadView.as_view(),
        name="segment_document",
    ),
    path("segments/<str:no>/lines/<int:line_no>/letter/", documents.LineLetterView.as_view(), name="line_letter"),
    path(
        "segments/<str:no>/lines/<int:line_no>/letter/download/",
        documents.LineLetterDownloadView.as_view(),
        name="line_letter_download",
    ),
    path(
        "segments/<str:no>/lines/<int:line_no>/letter/test-mail/",
        test_mail_views.LineTestMailView.as_view(),
        name="line_test_mail",
    ),
    path(
        "segments/<str:no>/lines/<int:line_no>/document/",
        documents.LineDocumentView.as_view(),
        name="line_document_upload",
    ),
    path(
        "segments/<str:no>/lines/<int:line_no>/document/remove/",
        documents.LineDocumentRemoveView.as_view(),
        name="line_document_remove",
    ),
    path("segments/<str:no>/criteria/save/", views.SaveCriteriaView.as_view(), name="criteria_save"),
    path("segments/<str:no>/criteria/reuse/", views.ReuseCriteriaView.as_view(), name="criteria_reuse"),
    path("segments/<str:no>/reuse-logged/", views.ReuseLoggedView.as_view(), name="reuse_logged"),
]

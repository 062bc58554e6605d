"""Interaction pages: logged segments (SPEC F5), the interaction log (F6), single interactions (F8).

Every action is a POST to its own URL that redirects (post/redirect/get).
"""

from django.urls import path

from .views import entries, logged_segments

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
    path("interactions/", entries.EntryListView.as_view(), name="entry_list"),
    path("interactions/new/", entries.EntryCreateView.as_view(), name="entry_create"),
    path("interactions/statistics/", entries.StatisticsView.as_view(), name="statistics"),
    path("interactions/cancel/", entries.EntrySetCanceledView.as_view(), name="entry_set_canceled"),
    path("interactions/evaluate/", entries.EntryEvaluateView.as_view(), name="entry_evaluate"),
    path("interactions/delete-canceled/", entries.EntryDeleteCanceledView.as_view(), name="entry_delete_canceled"),
    path("interactions/<int:pk>/", entries.EntryDetailView.as_view(), name="entry_detail"),
    path("interactions/<int:pk>/comments/", entries.EntryCommentAddView.as_view(), name="entry_comment_add"),
]

from django.urls import path

from meterdesk.support import views

app_name = "support"

urlpatterns = [
    path("", views.threads, name="threads"),
    path("new/", views.thread_new, name="new"),
    path("<int:thread_id>/", views.thread, name="thread"),
    path("files/<int:attachment_id>/", views.attachment, name="attachment"),
]

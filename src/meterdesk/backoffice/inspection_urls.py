"""Back-office pages of this part, included into the back office's URLs (namespace backoffice)."""

from django.urls import URLPattern, path

from meterdesk.backoffice import inspection_views as views

urlpatterns: list[URLPattern] = [
    path("", views.inspections, name="inspections"),
    path("route/", views.route, name="inspector_route"),
    path("request/", views.request_inspection, name="inspection_request"),
    path("letters.csv", views.letters_csv, name="inspection_letters"),
    path("letters/posted/", views.letters_posted, name="inspection_letters_posted"),
    path("<int:pk>/", views.inspection, name="inspection"),
    path("<int:pk>/visit/", views.visit, name="inspection_visit"),
    path("<int:pk>/reassign/", views.reassign, name="inspection_reassign"),
    path("<int:pk>/cancel/", views.cancel, name="inspection_cancel"),
    path("<int:pk>/photo/", views.photo, name="inspection_photo"),
]

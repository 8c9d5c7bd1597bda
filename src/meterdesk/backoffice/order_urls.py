"""Back-office pages of this part, included into the back office's URLs (namespace backoffice)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

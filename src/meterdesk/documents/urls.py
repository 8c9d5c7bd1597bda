from typing import Any

from django.urls import path  # noqa: F401 - the views of this app add their paths here

app_name = "documents"

urlpatterns: list[Any] = []

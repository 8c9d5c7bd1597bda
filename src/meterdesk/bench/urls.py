"""The product's URLs with the benchmark's endpoints (bench/api_floor.py) at /api/v1/bench/, for
the server that `meterdesk bench api` starts (bench/settings.py). They are served by an API of
their own, built like the product's (the same parser, error handlers and wrapping of every
view), so that a floor pays what a real request pays around its operation."""

from django.urls import URLPattern, URLResolver, path

from meterdesk.api.api import MeterdeskAPI
from meterdesk.bench.api_floor import router
from meterdesk.urls import urlpatterns as product_urlpatterns

bench_api = MeterdeskAPI(
    title="meterdesk benchmark endpoints",
    version="bench",
    urls_namespace="bench",
    docs_url=None,
    openapi_url=None,
)
bench_api.add_router("", router)

# Before the product's: its API answers every other path under /api/v1/ (a 404 in its shape).
urlpatterns: list[URLPattern | URLResolver] = [path("api/v1/bench/", bench_api.urls), *product_urlpatterns]

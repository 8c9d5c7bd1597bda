"""The benchmark's endpoints are mounted by its own URLconf only: the product's API has no bench
route, and the product (its URLconf, the API, the WSGI application, the test helpers) loads no
module of the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/v1/bench/trivial"), ("post", "/api/v1/bench/write")]
)
def test_the_product_api_has_no_bench_route(client, method, path):
    answer = getattr(client, method)(path, content_type="application/json")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_the_benchmark_urlconf_serves_its_floor_beside_the_product(client, settings):
    settings.ROOT_URLCONF = "meterdesk.bench.urls"
    trivial = client.get("/api/v1/bench/trivial")
    assert trivial.status_code == 200
    assert trivial.json() == {"ok": True}
    assert client.get("/api/v1/health").json() == {"status": "ok"}  # the product's API as it is
    unknown = client.get("/api/v1/bench/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"  # in the API's error shape


def test_the_product_loads_no_benchmark_module(tmp_path):
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "import meterdesk.api.api, meterdesk.wsgi, meterdesk.testing\n"
        "print(sorted(m for m in sys.modules if m.startswith('meterdesk.bench')))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "meterdesk.settings", "METERDESK_DATA_DIR": str(tmp_path)}
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"

"""The settings of a benchmark's processes: the product's, on the benchmark's own database
(bench/database.py), with the benchmark's endpoints mounted beside the API (bench/urls.py). The
product never loads this module: only `meterdesk bench` names it."""

from meterdesk.bench.database import database_settings
from meterdesk.settings import *  # noqa: F403
from meterdesk.settings import DATABASES as PRODUCT_DATABASES

DATABASES = {"default": database_settings(PRODUCT_DATABASES["default"])}
ROOT_URLCONF = "meterdesk.bench.urls"

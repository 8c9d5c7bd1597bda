"""The database a benchmark fills and measures, chosen before Django starts.

A benchmark runs Django on a database of its own, never the product's (it is dropped and created
again). ``database_choose`` says which before ``django_setup``; the benchmark's settings
(bench/settings.py) then build it from the product's settings, so that the product's database
server is found where the product finds it (settings.py reads the environment, nothing here does).
The benchmark's child processes get the chosen database as their DATABASE_URL."""

from __future__ import annotations

import dj_database_url
from dj_database_url import DBConfig

#: The local server, when neither the command nor the product's settings name a PostgreSQL one.
LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432"

_chosen: tuple[str | None, str] | None = None


def database_choose(*, url: str | None, name: str) -> None:
    """Measure on ``url`` if given, else on the database ``name`` of the product's PostgreSQL
    server (else of the local one). Call before ``django_setup(SETTINGS)``."""
    global _chosen
    _chosen = (url, name)


def database_settings(product: DBConfig) -> DBConfig:
    """The default database of a benchmark's process, from the product's (``product``): the one
    chosen, or the product's own in a child process, which gets the chosen one as DATABASE_URL."""
    if _chosen is None:
        return product
    url, name = _chosen
    if url:
        return dj_database_url.parse(url)
    if "postgresql" in str(product.get("ENGINE", "")):
        chosen = product.copy()
        chosen["NAME"] = name
        return chosen
    return dj_database_url.parse(f"{LOCAL_SERVER}/{name}")

"""The dependency rules of docs/architecture.md ("Dependencies run one way"), checked on the source.

Every module of src/meterdesk but the tests is parsed (not imported); every import counts: at
the top, inside a function, under ``if TYPE_CHECKING``, relative ones, and a literal name handed
to ``importlib.import_module`` or Django's ``import_string``. A broken rule fails with the module,
the line and the rule. A new rule is one more ``Rule``; an exception one more ``ALLOWED`` entry
with the reason (an entry that is no longer needed fails too, so the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "meterdesk"

#: The channels and the tools: nothing below them imports them.
TOP = (
    "meterdesk.portal",
    "meterdesk.api",
    "meterdesk.mail",
    "meterdesk.bench",
    "meterdesk.backoffice",
    "meterdesk.terminal",
)
#: Where the readings' core sits: the channels call it; what it is built on does not.
BELOW_CORE = (
    "meterdesk.domain",
    "meterdesk.utility",
    "meterdesk.customers",
    "meterdesk.tariffs",
    "meterdesk.metering",
    "meterdesk.billing",
)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _entry_point(module: str) -> bool:
    """The commands and the URLconfs wire everything together: they may import any app."""
    return module.rsplit(".", 1)[-1] in ("cli", "urls")


@dataclass(frozen=True)
class Rule:
    name: str
    #: the modules the rule is about (each a package and everything in it)
    importers: tuple[str, ...]
    #: what they must not import (each a package and everything in it) ...
    forbidden: tuple[str, ...]
    #: ... but for these
    allowed: tuple[str, ...] = ()
    #: importers the rule leaves out
    skip: tuple[str, ...] = ()
    entry_points_exempt: bool = False

    def broken_by(self, module: str, imported: str) -> bool:
        if not _within(module, self.importers) or _within(module, self.skip):
            return False
        if self.entry_points_exempt and _entry_point(module):
            return False
        return _within(imported, self.forbidden) and not _within(imported, self.allowed)


RULES = (
    Rule("domain imports no Django", ("meterdesk.domain",), ("django", "ninja")),
    Rule("domain imports no app", ("meterdesk.domain",), ("meterdesk",), allowed=("meterdesk.domain",)),
    Rule(
        "metering does not import billing, the core or a channel",
        ("meterdesk.metering",),
        ("meterdesk.billing", "meterdesk.core", "meterdesk.portal", "meterdesk.api"),
    ),
    Rule("what the core is built on does not import it", BELOW_CORE, ("meterdesk.core",)),
    *(
        Rule(
            "nothing but the commands and URLconfs imports a channel or the benchmarks",
            ("meterdesk",),
            (top,),
            skip=(top,),
            entry_points_exempt=True,
        )
        for top in TOP
    ),
)

#: Imports that break a rule, each with why it is still there.
ALLOWED: dict[tuple[str, str], str] = {
    # The benchmark of the API builds a floor endpoint from the API's own parts (issue 17 item 6
    # moves the benchmarks out of the product; until then they are listed here).
    ("meterdesk.bench.api", "meterdesk.api.auth"): "bench api: a token for the load",
    ("meterdesk.bench.api_floor", "meterdesk.api.auth"): "bench api: the floor authenticates as the API",
    ("meterdesk.bench.api_floor", "meterdesk.api.idempotency"): "bench api: the floor's key look-up",
    ("meterdesk.bench.api_floor", "meterdesk.api.schemas"): "bench api: the floor's body",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    imported: str  # the module (or module.name) imported
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import …`` in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


_LOADERS = {"import_module", "import_string"}


def imports_of(source: str, module: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every import in ``source`` (the text of ``module``), wherever it stands."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            yield Import(module, base, node.lineno)
            # ``from meterdesk import api`` imports the package meterdesk.api.
            for alias in node.names:
                if alias.name != "*":
                    yield Import(module, f"{base}.{alias.name}", node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in _LOADERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield Import(module, first.value, node.lineno)


def product_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SOURCE.rglob("*.py")):
        if "tests" in path.relative_to(SOURCE).parts:
            continue
        yield _module_name(path), path


def violations(found: Iterator[Import]) -> list[tuple[Import, Rule]]:
    """Each import that breaks a rule, with the rule (once per line and rule)."""
    broken = []
    seen = set()
    for imp in found:
        for rule in RULES:
            if rule.broken_by(imp.module, imp.imported) and (imp.module, imp.line, rule) not in seen:
                seen.add((imp.module, imp.line, rule))
                broken.append((imp, rule))
    return broken


def _all_imports() -> Iterator[Import]:
    for module, path in product_modules():
        yield from imports_of(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py")


def _allowed_by(imp: Import) -> tuple[str, str] | None:
    """The ``ALLOWED`` entry that covers ``imp`` (the module, and what it imports or its package)."""
    for module, target in ALLOWED:
        if imp.module == module and _within(imp.imported, (target,)):
            return module, target
    return None


def test_the_source_keeps_the_rules():
    broken = [(imp, rule) for imp, rule in violations(_all_imports()) if _allowed_by(imp) is None]
    report = "\n".join(f"{imp.module}:{imp.line} imports {imp.imported}: {rule.name}" for imp, rule in broken)
    assert not broken, f"imports against docs/architecture.md's rules:\n{report}"


def test_every_allowed_exception_is_still_needed():
    still = {_allowed_by(imp) for imp, _rule in violations(_all_imports())}
    stale = sorted(set(ALLOWED) - still)
    assert not stale, f"no longer imported: remove from ALLOWED: {stale}"


def test_the_source_is_found():
    modules = dict(product_modules())
    assert "meterdesk.metering.services" in modules and "meterdesk.domain.readings" in modules
    assert not any(".tests" in name for name in modules)


# --- the checker itself, on synthetic modules --------------------------------------------------


def _broken(source: str, module: str, *, is_package: bool = False) -> list[str]:
    return [rule.name for _imp, rule in violations(imports_of(source, module, is_package=is_package))]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        # metering reaching into billing, at the top, in a function, under TYPE_CHECKING
        ("meterdesk.metering.fake", "from meterdesk.billing.models import AccountClose\n"),
        ("meterdesk.metering.fake", "def f():\n    from meterdesk.billing import pricing\n"),
        ("meterdesk.metering.fake", "if TYPE_CHECKING:\n    import meterdesk.billing.preview\n"),
        ("meterdesk.metering.fake", "from meterdesk import billing\n"),
        ("meterdesk.metering.fake", "from ..billing.preview import ChargePreview\n"),
        ("meterdesk.metering.fake", "import importlib\nimportlib.import_module('meterdesk.core.readings')\n"),
        ("meterdesk.metering.fake", "from meterdesk.core.readings import reading_check\n"),
        # the domain and Django
        ("meterdesk.domain.fake", "from django.db import models\n"),
        ("meterdesk.domain.fake", "def f():\n    from meterdesk.metering.models import Meter\n"),
        # a channel or a benchmark imported from below
        ("meterdesk.documents.fake", "from meterdesk.portal.views import window_state\n"),
        ("meterdesk.testing", "from meterdesk.bench.api import load\n"),
        (
            "meterdesk.billing.fake",
            "from django.utils.module_loading import import_string\n"
            "import_string('meterdesk.api.present.charge_out')\n",
        ),
        # the core imported by what it is built on
        ("meterdesk.billing.fake", "from meterdesk.core import readings\n"),
    ],
)
def test_a_forbidden_import_is_found(module, source):
    assert _broken(source, module), source


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("meterdesk.billing.fake", "from meterdesk.metering.models import Reading\n"),
        ("meterdesk.core.fake", "from meterdesk.billing.preview import charge_preview\n"),
        ("meterdesk.portal.fake", "from meterdesk.core.readings import reading_submit\n"),
        ("meterdesk.api.routers.fake", "from meterdesk.api.errors import reading_error\n"),
        ("meterdesk.api.routers.fake", "from ..errors import reading_error\n"),
        ("meterdesk.cli", "from meterdesk.bench.cli import bench_group\n"),
        ("meterdesk.urls", "from meterdesk.api.api import api\n"),
        ("meterdesk.domain.fake", "from meterdesk.domain.periods import add_months\nimport decimal\n"),
        ("meterdesk.metering.fake", "from meterdesk.metering.models import Meter\n"),
    ],
)
def test_an_allowed_import_passes(module, source):
    assert not _broken(source, module), source


def test_a_forbidden_import_added_to_a_real_module_fails_the_check():
    """The rule as the suite applies it: metering/services.py with one import of billing added."""
    path = SOURCE / "metering" / "services.py"
    source = path.read_text(encoding="utf-8") + "\n\ndef _late():\n    from meterdesk.billing import close\n"
    broken = violations(imports_of(source, "meterdesk.metering.services"))
    assert [(imp.imported, rule.name) for imp, rule in broken][:1] == [
        ("meterdesk.billing", "metering does not import billing, the core or a channel")
    ]

"""The reference data in the back office: tariffs and norms with every version, and a new version
from a date (``reference_services``)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.reference_services import (
    Change,
    ClosedMonth,
    ReferenceError,
    bank_closed_month,
    bank_version_add,
    bank_versions,
    closed_until,
    norm_starts,
    norm_table,
    norm_version_add,
    office_version_add,
    profile_version_add,
    reference_history,
    tariff_version_add,
    tariff_versions,
    window_version_add,
)
from meterdesk.billing.messages import month_name
from meterdesk.customers.models import PremisesCategory, User
from meterdesk.domain.penalties import key_rates_load
from meterdesk.domain.profiles import profile_codes
from meterdesk.phone.models import Office
from meterdesk.phone.offices import office_versions, offices_on
from meterdesk.tariffs.models import KIND_ZONES, Norm, Tariff, TariffKind
from meterdesk.utility.models import ReadingWindowVersion, RulesProfileVersion
from meterdesk.utility.selectors import (
    bank_details_get,
    reading_window_get,
    rules_profile_get,
    utility_get,
    utility_now,
)


def _region() -> str:
    return utility_get().tariff_region


def _history_rows() -> list[dict[str, Any]]:
    rows = []
    for entry in reference_history(50):
        data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
        rows.append(
            {
                "at": entry.timestamp,
                "who": entry.actor.email if entry.actor else (entry.actor_email or ""),
                "what": f"{entry.content_type.model_class()._meta.verbose_name} {entry.object_repr}"  # type: ignore[union-attr]
                if entry.content_type.model_class()
                else entry.object_repr,
                "fields": [(name, pair[0], pair[1]) for name, pair in (entry.changes_dict or {}).items()],
                "reason": str(data.get("reason") or ""),
            }
        )
    return rows


def _closed_text() -> str | None:
    last = closed_until()
    return month_name(last) if last else None


@staff_action("reference")
def reference(request: HttpRequest) -> HttpResponse:
    region = _region()
    today = utility_now().date()
    tariffs: dict[tuple[str, str], list[Tariff]] = defaultdict(list)
    for tariff in (
        Tariff.objects.filter(region=region)
        .order_by("category", "kind", "-valid_from")
        .prefetch_related("prices")
    ):
        tariffs[(tariff.category, tariff.kind)].append(tariff)
    categories = dict(PremisesCategory.choices)
    kinds = dict(TariffKind.choices)
    norms = []
    for category, label in PremisesCategory.choices:
        starts = norm_starts(region, category)
        if starts:
            norms.append({"category": category, "label": label, "table": norm_table(region, category, today)})
    last = closed_until()
    return render(
        request,
        "backoffice/reference/index.html",
        {
            "tariffs": [
                {
                    "category": category,
                    "kind": kind,
                    "label": f"{categories.get(category, category)}, {kinds.get(kind, kind)}",
                    "versions": [
                        (
                            v,
                            sorted(v.prices.all(), key=lambda p: (p.zone, p.band)),
                            v.valid_from <= today and (v.valid_to is None or today <= v.valid_to),
                        )
                        for v in versions
                    ],
                }
                for (category, kind), versions in tariffs.items()
            ],
            "norms": norms,
            "key_rates": list(reversed(key_rates_load().entries[-12:])),
            "window": reading_window_get(None, today),
            "windows": list(ReadingWindowVersion.objects.order_by("-valid_from")),
            "bank_now": bank_details_get(today),
            "profile_now": rules_profile_get(None, today),
            "profiles": list(RulesProfileVersion.objects.order_by("-valid_from")),
            "offices": [(o, office_versions(o)) for o in offices_on(today)],
            "banks": bank_versions(),
            "today": today,
            "closed": month_name(last) if last else None,
            "history": _history_rows(),
        },
    )


@staff_action("reference_edit")
def reference_edit(request: HttpRequest) -> HttpResponse:
    """What to change: a tariff or a table of norms."""
    region = _region()
    categories = dict(PremisesCategory.choices)
    kinds = dict(TariffKind.choices)
    pairs = (
        Tariff.objects.filter(region=region)
        .order_by("category", "kind")
        .values_list("category", "kind")
        .distinct()
    )
    norm_categories = (
        Norm.objects.filter(region=region).order_by("category").values_list("category", flat=True).distinct()
    )
    return render(
        request,
        "backoffice/reference/edit.html",
        {
            "tariffs": [(c, k, f"{categories.get(c, c)}, {kinds.get(k, k)}") for c, k in pairs],
            "norms": [(c, categories.get(c, c)) for c in norm_categories],
            "offices": offices_on(utility_now().date()),
        },
    )


class VersionForm(forms.Form):
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("The first day of a month."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Why"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("E.g. the regulator's order and its date: it is recorded."),
    )
    confirm_closed = forms.BooleanField(
        label=gettext_lazy("I know this changes a month already closed"), required=False
    )

    def add_values(self, cells: list[tuple[str, Any, Decimal | None]], decimals: int) -> None:
        """A number field for each cell: (name, label, initial value)."""
        for name, label, initial in cells:
            self.fields[name] = forms.DecimalField(
                label=label, min_value=Decimal(0), decimal_places=decimals, max_digits=8, initial=initial
            )

    def change(self) -> Change:
        data = self.cleaned_data
        return Change(data["valid_from"], data["reason"], bool(data.get("confirm_closed")))


def _version_post(
    request: HttpRequest, form: VersionForm, save: Any, back: str
) -> tuple[HttpResponse | None, bool]:
    """Save the form's change with ``save``: a redirect when done; else whether the closed-month
    warning is shown (the form then has its errors)."""
    if not form.is_valid():
        return None, False
    try:
        save(form.change())
    except ClosedMonth as error:
        form.add_error(None, str(error))
        return None, True
    except ReferenceError as error:
        form.add_error(None, str(error))
        return None, False
    messages.success(
        request,
        _("The new version from %(day)s is saved.")
        % {"day": form.cleaned_data["valid_from"].strftime("%d.%m.%Y")},
    )
    return redirect(back), False


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def tariff_edit(request: HttpRequest, category: str, kind: str) -> HttpResponse:
    region = _region()
    if kind not in TariffKind.values or category not in PremisesCategory.values:
        raise Http404
    versions = tariff_versions(region, category, kind)
    current = versions[0] if versions else None
    prices = {(p.zone, p.band): p.price for p in current.prices.all()} if current else {}
    bands = [b.band for b in current.bands.all()] if current else []
    cells = [(z, b) for z in range(1, KIND_ZONES[TariffKind(kind)] + 1) for b in (bands or [1])]
    form = VersionForm(request.POST or None)
    form.add_values(
        [
            (
                f"price_{z}_{b}",
                _("T%(zone)s, ₽/kWh") % {"zone": z}
                if len(bands) < 2
                else _("T%(zone)s band %(band)s, ₽/kWh") % {"zone": z, "band": b},
                prices.get((z, b)),
            )
            for z, b in cells
        ],
        2,
    )
    closed_warning = False
    if request.method == "POST":

        def save(change: Change) -> None:
            tariff_version_add(
                user=cast(User, request.user),
                region=region,
                category=category,
                kind=kind,
                prices={(z, b): form.cleaned_data[f"price_{z}_{b}"] for z, b in cells},
                change=change,
            )

        done, closed_warning = _version_post(request, form, save, "backoffice:reference")
        if done is not None:
            return done
    return render(
        request,
        "backoffice/reference/version_form.html",
        {
            "title": _("New prices: %(tariff)s")
            % {"tariff": f"{PremisesCategory(category).label}, {TariffKind(kind).label}"},
            "form": form,
            "value_fields": [form[f"price_{z}_{b}"] for z, b in cells],
            "versions": [
                (v.valid_from, v.valid_to, sorted(v.prices.all(), key=lambda p: (p.zone, p.band)))
                for v in versions
            ],
            "closed_warning": closed_warning,
            "closed": _closed_text(),
        },
        status=422 if request.method == "POST" else 200,
    )


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def norms_edit(request: HttpRequest, category: str) -> HttpResponse:
    region = _region()
    if category not in PremisesCategory.values:
        raise Http404
    today = utility_now().date()
    table = norm_table(region, category, today)
    if not table:
        raise Http404
    form = VersionForm(request.POST or None)
    form.add_values(
        [
            (
                f"norm_{n.rooms}_{n.residents}",
                _("%(rooms)s rooms, %(residents)s residents, kWh per resident")
                % {"rooms": n.rooms, "residents": n.residents},
                n.kwh_per_person,
            )
            for n in table
        ],
        3,
    )
    closed_warning = False
    if request.method == "POST":

        def save(change: Change) -> None:
            norm_version_add(
                user=cast(User, request.user),
                region=region,
                category=category,
                values={
                    (n.rooms, n.residents): form.cleaned_data[f"norm_{n.rooms}_{n.residents}"] for n in table
                },
                change=change,
            )

        done, closed_warning = _version_post(request, form, save, "backoffice:reference")
        if done is not None:
            return done
    return render(
        request,
        "backoffice/reference/version_form.html",
        {
            "title": _("New norms: %(category)s") % {"category": PremisesCategory(category).label},
            "form": form,
            "value_fields": [form[f"norm_{n.rooms}_{n.residents}"] for n in table],
            "starts": norm_starts(region, category),
            "closed_warning": closed_warning,
            "closed": _closed_text(),
        },
        status=422 if request.method == "POST" else 200,
    )


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def window_edit(request: HttpRequest) -> HttpResponse:
    today = utility_now().date()
    current = reading_window_get(None, today)
    form = VersionForm(request.POST or None)
    for name, label, initial in (
        ("start_day", _("The window opens on day"), current.start_day),
        ("end_day", _("The window closes after day"), current.end_day),
    ):
        form.fields[name] = forms.IntegerField(label=label, min_value=1, max_value=31, initial=initial)
    closed_warning = False
    if request.method == "POST":

        def save(change: Change) -> None:
            window_version_add(
                user=cast(User, request.user),
                start_day=form.cleaned_data["start_day"],
                end_day=form.cleaned_data["end_day"],
                change=change,
            )

        done, closed_warning = _version_post(request, form, save, "backoffice:reference")
        if done is not None:
            return done
    return render(
        request,
        "backoffice/reference/version_form.html",
        {
            "title": _("New reading window"),
            "form": form,
            "value_fields": [form["start_day"], form["end_day"]],
            "windows": list(ReadingWindowVersion.objects.order_by("-valid_from")),
            "closed_warning": closed_warning,
            "closed": _closed_text(),
        },
        status=422 if request.method == "POST" else 200,
    )


BANK_LABELS = {
    "bank_name": gettext_lazy("Bank"),
    "bic": gettext_lazy("BIC (9 digits)"),
    "settlement_account": gettext_lazy("Settlement account (20 digits)"),
    "correspondent_account": gettext_lazy("Correspondent account (20 digits)"),
}


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def bank_edit(request: HttpRequest) -> HttpResponse:
    """New bank details of the payee from a month: the bills issued from that day print them."""
    today = utility_now().date()
    current = bank_details_get(today)
    form = VersionForm(request.POST or None)
    for name, label in BANK_LABELS.items():
        form.fields[name] = forms.CharField(
            label=label, max_length=200 if name == "bank_name" else 20, initial=current.get(name)
        )
    if request.method == "POST":
        try:
            if form.is_valid():
                bank_version_add(
                    user=cast(User, request.user),
                    details={name: form.cleaned_data[name] for name in BANK_LABELS},
                    change=form.change(),
                )
                closed = bank_closed_month(form.cleaned_data["valid_from"])
                messages.success(
                    request,
                    _("The new version from %(day)s is saved.")
                    % {"day": form.cleaned_data["valid_from"].strftime("%d.%m.%Y")},
                )
                if closed is not None:
                    messages.info(request, _bank_closed_text(closed))
                return redirect("backoffice:reference")
        except ReferenceError as error:
            form.add_error(None, str(error))
    last = closed_until()
    return render(
        request,
        "backoffice/reference/bank_form.html",
        {
            "title": _("New bank details"),
            "form": form,
            "value_fields": [form[name] for name in BANK_LABELS],
            "banks": bank_versions(),
            "closed_note": _bank_closed_text(last) if last else None,
        },
        status=422 if request.method == "POST" else 200,
    )


def _bank_closed_text(last: Any) -> str:
    return _(
        "Closed up to %(month)s inclusive: its bills and those before keep the bank details they were "
        "issued with, whatever date you give. A bill prints the details valid on the 1st of the month "
        "after its month."
    ) % {"month": month_name(last)}


OFFICE_LABELS = {
    "name": gettext_lazy("Name"),
    "address": gettext_lazy("Address"),
    "latitude": gettext_lazy("Latitude"),
    "longitude": gettext_lazy("Longitude"),
    "hours_ru": gettext_lazy("Opening hours (Russian, as the phone line says them)"),
    "hours_en": gettext_lazy("Opening hours (English, as the phone line says them)"),
    "active": gettext_lazy("Open to the public"),
}


class OfficeVersionForm(VersionForm):
    """An office's new values from any day (not only the 1st: offices are not billed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["valid_from"].help_text = gettext_lazy(
            "Any day: offices are not billed, so no closed month is touched."
        )
        del self.fields["confirm_closed"]


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def office_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """An office's new name, address, place, hours or opening from a day (e.g. it moves next month)."""
    office = Office.objects.filter(pk=pk).first()
    if office is None:
        raise Http404
    today = utility_now().date()
    current = offices_on(today)
    shown = next(o for o in current if o.pk == office.pk)
    form = OfficeVersionForm(request.POST or None)
    for name, label in OFFICE_LABELS.items():
        initial = getattr(shown, name)
        if name in ("latitude", "longitude"):
            form.fields[name] = forms.DecimalField(
                label=label,
                max_digits=9,
                decimal_places=6,
                initial=initial,
                min_value=Decimal(-180),
                max_value=Decimal(180),
            )
        elif name == "active":
            form.fields[name] = forms.BooleanField(label=label, required=False, initial=initial)
        else:
            form.fields[name] = forms.CharField(
                label=label, max_length=200 if name == "name" else 300, initial=initial
            )
    if request.method == "POST":
        try:
            if form.is_valid():
                office_version_add(
                    user=cast(User, request.user),
                    office=office,
                    values={name: form.cleaned_data[name] for name in OFFICE_LABELS},
                    change=Change(form.cleaned_data["valid_from"], form.cleaned_data["reason"]),
                )
                messages.success(
                    request,
                    _("The new version from %(day)s is saved.")
                    % {"day": form.cleaned_data["valid_from"].strftime("%d.%m.%Y")},
                )
                return redirect("backoffice:reference")
        except ReferenceError as error:
            form.add_error(None, str(error))
    return render(
        request,
        "backoffice/reference/office_form.html",
        {
            "title": _("Office: %(name)s") % {"name": shown.name},
            "form": form,
            "value_fields": [form[name] for name in OFFICE_LABELS],
            "versions": office_versions(office),
        },
        status=422 if request.method == "POST" else 200,
    )


@staff_action("reference_edit")
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    """The rules profile from a month: billing of a month uses the profile valid for it."""
    today = utility_now().date()
    form = VersionForm(request.POST or None)
    form.fields["code"] = forms.ChoiceField(
        label=_("Rules profile"),
        choices=[(code, code) for code in profile_codes()],
        initial=rules_profile_get(None, today),
    )
    closed_warning = False
    if request.method == "POST":

        def save(change: Change) -> None:
            profile_version_add(user=cast(User, request.user), code=form.cleaned_data["code"], change=change)

        done, closed_warning = _version_post(request, form, save, "backoffice:reference")
        if done is not None:
            return done
    return render(
        request,
        "backoffice/reference/version_form.html",
        {
            "title": _("New rules profile"),
            "form": form,
            "value_fields": [form["code"]],
            "profiles": list(RulesProfileVersion.objects.order_by("-valid_from")),
            "profile_note": True,
            "closed_warning": closed_warning,
            "closed": _closed_text(),
        },
        status=422 if request.method == "POST" else 200,
    )

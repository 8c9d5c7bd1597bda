"""The back office's roles and what each may do: one table, ``ACTIONS``.

Each action is a page (or a form) of the back office and a permission of the same codename
(``backoffice.<action>``); each role is a Django group holding the permissions of the actions it
is listed for. The groups are made from this table by a migration (``roles_sync``); a change to
the table comes with a new migration that runs ``roles_sync`` again. The permission-matrix test
walks every role and every action from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

OPERATOR = "operator"
INSPECTOR = "inspector"
BILLING = "billing"
SUPPORT = "support"
SUPERVISOR = "supervisor"
ADMIN = "admin"

#: Each role's group name (as the admin shows it) and what the role is for.
ROLES: dict[str, Any] = {
    OPERATOR: _("front desk and phone"),
    INSPECTOR: _("field inspections"),
    BILLING: _("billing"),
    SUPPORT: _("customer support"),
    SUPERVISOR: _("supervisor"),
    ADMIN: _("administrator"),
}

ALL = tuple(ROLES)


@dataclass(frozen=True)
class Action:
    codename: str
    name: str  # the permission's name, in English as Django's own are
    roles: tuple[str, ...]


ACTIONS: tuple[Action, ...] = (
    Action("search", "Can find customers", ALL),
    Action("account", "Can see a customer's account", ALL),
    Action("changes", "Can see an account's history of changes", (BILLING, SUPPORT, SUPERVISOR, ADMIN)),
    Action("account_correct", "Can correct an account's details", (OPERATOR, SUPPORT, SUPERVISOR, ADMIN)),
    Action("reading_key", "Can key in a reading", (OPERATOR, INSPECTOR, SUPERVISOR, ADMIN)),
    Action("reading_batch", "Can key in a stack of reading slips", (OPERATOR, SUPERVISOR, ADMIN)),
    Action("support_queue", "Can see the support queue", (SUPPORT, SUPERVISOR, ADMIN)),
    Action("support_answer", "Can answer customers in support", (SUPPORT, SUPERVISOR, ADMIN)),
    Action("support_escalated", "Can see support questions escalated", (SUPERVISOR, ADMIN)),
    Action("stats", "Can see the statistics", (BILLING, SUPERVISOR, ADMIN)),
    Action("billing_runs", "Can see the monthly closes", (BILLING, SUPERVISOR, ADMIN)),
    Action("billing_close", "Can start a month's close", (BILLING, ADMIN)),
    Action("rebill", "Can rebill an account", (BILLING, ADMIN)),
    Action(
        "residents", "Can record a change in the number of residents", (OPERATOR, SUPPORT, SUPERVISOR, ADMIN)
    ),
    Action("inspections", "Can plan inspections", (INSPECTOR, SUPERVISOR, ADMIN)),
    Action("inspection_visit", "Can take a control reading", (INSPECTOR, SUPERVISOR, ADMIN)),
    Action("reference", "Can see the reference data", (BILLING, SUPERVISOR, ADMIN)),
    Action("reference_edit", "Can change the reference data", (BILLING, ADMIN)),
    Action("service_requests", "Can handle service requests", (OPERATOR, SUPPORT, SUPERVISOR, ADMIN)),
    Action("debts", "Can work the debt cases", (BILLING, SUPERVISOR, ADMIN)),
)

ACTION_BY_CODENAME = {a.codename: a for a in ACTIONS}


def group_name(role: str) -> str:
    """The Django group of ``role``: the role's code, prefixed so that it sorts together."""
    return f"office: {role}"


def permission(codename: str) -> str:
    """The permission of an action, as ``User.has_perm`` takes it."""
    if codename not in ACTION_BY_CODENAME:
        raise KeyError(f"no back-office action {codename!r}")
    return f"backoffice.{codename}"


def allowed(role: str, codename: str) -> bool:
    return role in ACTION_BY_CODENAME[codename].roles


def roles_sync(apps: Any) -> None:
    """Make the permissions and the groups match ``ACTIONS`` (for a migration: ``apps`` is the
    migration's app registry). A group keeps no back-office permission the table does not give
    it; permissions of other apps given by hand in the admin stay."""
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    content_type, _created = content_type_model.objects.get_or_create(app_label="backoffice", model="office")
    perms = {}
    for action in ACTIONS:
        perm, _created = permission_model.objects.update_or_create(
            content_type=content_type, codename=action.codename, defaults={"name": action.name}
        )
        perms[action.codename] = perm
    for role in ROLES:
        group, _created = group_model.objects.get_or_create(name=group_name(role))
        theirs = [perms[a.codename] for a in ACTIONS if role in a.roles]
        others = group.permissions.exclude(content_type=content_type)
        group.permissions.set([*others, *theirs])

"""The support queue in the back office: the list with its filters and ages, a thread with its
answers and internal notes, and staff's actions on it (each written to the audit by
``support.services``). Callback requests and letters not understood are brought in first."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from meterdesk.backoffice.access import staff_action
from meterdesk.backoffice.roles import permission
from meterdesk.customers.models import User
from meterdesk.support.intake import queue_intake
from meterdesk.support.messages import text_message
from meterdesk.support.models import Attachment, CannedAnswer, Source, Status, Thread, Topic
from meterdesk.support.selectors import QueueFilter, canned_answers, messages_shown, queue, queue_row
from meterdesk.support.services import (
    MAX_TEXT,
    TextError,
    thread_answer,
    thread_assign,
    thread_note,
    thread_status_set,
)
from meterdesk.support.views import file_response
from meterdesk.utility.selectors import utility_now

_ANY = [("", gettext_lazy("any"))]


class QueueForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("not closed")), ("all", gettext_lazy("any")), *Status.choices],
    )
    topic = forms.ChoiceField(label=gettext_lazy("Topic"), required=False, choices=[*_ANY, *Topic.choices])
    source = forms.ChoiceField(
        label=gettext_lazy("Came from"), required=False, choices=[*_ANY, *Source.choices]
    )
    assigned = forms.ChoiceField(
        label=gettext_lazy("Assigned"),
        required=False,
        choices=[*_ANY, ("me", gettext_lazy("to me")), ("none", gettext_lazy("to no one"))],
    )
    overdue = forms.BooleanField(label=gettext_lazy("Overdue only"), required=False)


class AnswerForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Answer to the customer"),
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    canned = forms.ModelChoiceField(
        label=gettext_lazy("Canned answer"),
        queryset=CannedAnswer.objects.filter(active=True),
        required=False,
        empty_label="—",
    )
    status = forms.ChoiceField(label=gettext_lazy("Then"), choices=Status.choices, initial=Status.WAITING)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Internal note (the customer never sees it)"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Status.choices)


def _workers() -> Any:
    """The staff who may answer: whoever the table gives the answering action."""
    perm = Q(
        groups__permissions__codename="support_answer",
        groups__permissions__content_type__app_label="backoffice",
    )
    return (
        User.objects.filter(perm | Q(is_superuser=True), is_staff=True, is_active=True)
        .distinct()
        .order_by("email")
    )


class StaffField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.full_name or obj.email)


class AssignForm(forms.Form):
    assignee = StaffField(
        label=gettext_lazy("Assign to"), queryset=User.objects.none(), required=False, empty_label="—"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(StaffField, self.fields["assignee"]).queryset = _workers()


def _staff(request: HttpRequest) -> User:
    return cast(User, request.user)


def _thread(thread_id: int) -> Thread:
    try:
        return Thread.objects.select_related("account", "user", "assigned_to").get(pk=thread_id)
    except Thread.DoesNotExist as exc:
        raise Http404 from exc


def _queue_page(
    request: HttpRequest, filters: QueueFilter, form: QueueForm | None, heading: str
) -> HttpResponse:
    queue_intake()
    rows = queue(filters, staff=_staff(request), now=utility_now())
    return render(request, "backoffice/support/queue.html", {"rows": rows, "form": form, "heading": heading})


@staff_action("support_queue")
def support_queue(request: HttpRequest) -> HttpResponse:
    form = QueueForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = QueueFilter(
        status=data.get("status", ""),
        topic=data.get("topic", ""),
        source=data.get("source", ""),
        assigned=data.get("assigned", ""),
        overdue=bool(data.get("overdue")),
    )
    return _queue_page(request, filters, form, _("Support queue"))


@staff_action("support_escalated")
def support_escalated(request: HttpRequest) -> HttpResponse:
    """A supervisor's list: what is escalated, or overdue and not yet escalated."""
    return _queue_page(request, QueueFilter(escalated=True), None, _("Escalated to a supervisor"))


def _thread_page(
    request: HttpRequest, thread: Thread, *, answer: AnswerForm | None = None, status: int = 200
) -> HttpResponse:
    can_answer = _staff(request).has_perm(permission("support_answer"))
    context = {
        "thread": thread,
        "row": queue_row(thread, utility_now()),
        "messages_shown": messages_shown(thread, staff=True),
        "can_answer": can_answer,
        "answer": answer or AnswerForm(initial={"status": Status.WAITING}),
        "note": NoteForm(),
        "assign": AssignForm(initial={"assignee": thread.assigned_to}),
        "status_form": StatusForm(initial={"status": thread.status}),
        "canned": canned_answers(),
    }
    return render(request, "backoffice/support/thread.html", context, status=status)


@staff_action("support_queue")
def support_thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    return _thread_page(request, _thread(thread_id))


@staff_action("support_answer")
@require_http_methods(["GET", "POST"])
def support_answer(request: HttpRequest, thread_id: int) -> HttpResponse:
    """The answer form. "Insert" adds the chosen canned answer (in the customer's language) to
    the text and shows the form again; "Send" sends it."""
    thread = _thread(thread_id)
    if request.method == "GET":
        return _thread_page(request, thread)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _thread_page(request, thread, answer=form, status=400)
    data = form.cleaned_data
    if "insert" in request.POST:
        language = thread.user.language if thread.user else "ru"
        text = "\n\n".join(
            t for t in (data["text"].strip(), data["canned"].text(language) if data["canned"] else "") if t
        )
        return _thread_page(
            request, thread, answer=AnswerForm(initial={"text": text, "status": data["status"]})
        )
    try:
        thread_answer(staff=_staff(request), thread=thread, text=data["text"], status=data["status"])
    except TextError as error:
        form.add_error("text", ValidationError(text_message(error), code=error.code))
        return _thread_page(request, thread, answer=form, status=400)
    messages.success(request, _("The answer is sent to the customer."))
    return redirect("backoffice:support_thread", thread_id=thread.pk)


@staff_action("support_answer")
@require_POST
def support_note(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = _thread(thread_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            thread_note(staff=_staff(request), thread=thread, text=form.cleaned_data["text"])
        except TextError as error:
            messages.error(request, text_message(error))
        else:
            messages.success(request, _("The note is added."))
    else:
        messages.error(request, _("Write the note first."))
    return redirect("backoffice:support_thread", thread_id=thread.pk)


@staff_action("support_answer")
@require_POST
def support_assign(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = _thread(thread_id)
    form = AssignForm(request.POST)
    if "me" in request.POST:
        assignee: User | None = _staff(request)
    elif form.is_valid():
        assignee = form.cleaned_data["assignee"]
    else:
        raise Http404
    thread_assign(staff=_staff(request), thread=thread, assignee=assignee)
    messages.success(request, _("The assignment is saved."))
    return redirect("backoffice:support_thread", thread_id=thread.pk)


@staff_action("support_answer")
@require_POST
def support_status(request: HttpRequest, thread_id: int) -> HttpResponse:
    thread = _thread(thread_id)
    form = StatusForm(request.POST)
    if form.is_valid():
        thread_status_set(staff=_staff(request), thread=thread, status=form.cleaned_data["status"])
        messages.success(request, _("The status is saved."))
    return redirect("backoffice:support_thread", thread_id=thread.pk)


@staff_action("support_queue")
def support_file(request: HttpRequest, attachment_id: int) -> Any:  # a FileResponse
    try:
        found = Attachment.objects.get(pk=attachment_id)
    except Attachment.DoesNotExist as exc:
        raise Http404 from exc
    return file_response(found)

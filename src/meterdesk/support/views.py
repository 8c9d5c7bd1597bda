"""Support in the personal account: the login's threads, a new question, a thread with its
answers, and the files of its own threads (anyone else's is a 404)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from meterdesk.customers.models import User
from meterdesk.metering.selectors import accounts_for_user
from meterdesk.support.attachments import PDF, AttachmentError, file_path
from meterdesk.support.forms import ThreadForm, WriteForm
from meterdesk.support.messages import attachment_message, limit_message, text_message
from meterdesk.support.models import Attachment, Thread
from meterdesk.support.selectors import attachment_of, messages_shown, thread_of, threads_of
from meterdesk.support.services import TextError, TooManyMessages, thread_customer_write, thread_open


def _login(request: HttpRequest) -> User:
    return cast(User, request.user)


def _refused(form: ThreadForm | WriteForm, error: Exception) -> None:
    if isinstance(error, TooManyMessages):
        form.add_error(None, ValidationError(limit_message(), code=error.code))
    elif isinstance(error, AttachmentError):
        form.add_error("attachments", ValidationError(attachment_message(error), code=error.code))
    elif isinstance(error, TextError):
        form.add_error("text", ValidationError(text_message(error), code=error.code))


@login_required
def threads(request: HttpRequest) -> HttpResponse:
    return render(request, "support/threads.html", {"threads": list(threads_of(_login(request))[:100])})


@login_required
@require_http_methods(["GET", "POST"])
def thread_new(request: HttpRequest) -> HttpResponse:
    user = _login(request)
    form = ThreadForm(request.POST or None, request.FILES or None, accounts=accounts_for_user(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            thread = thread_open(
                user=user,
                account=data["account"],
                topic=data["topic"],
                text=data["text"],
                uploads=data["attachments"],
            )
        except (AttachmentError, TextError, TooManyMessages) as error:
            _refused(form, error)
        else:
            messages.success(request, _("Your question is sent. We will answer here and by e-mail."))
            return redirect("support:thread", thread_id=thread.pk)
    return render(request, "support/new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def thread(request: HttpRequest, thread_id: int) -> HttpResponse:
    user = _login(request)
    try:
        found = thread_of(user, thread_id)
    except Thread.DoesNotExist as exc:
        raise Http404 from exc
    form = WriteForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            thread_customer_write(
                user=user,
                thread=found,
                text=form.cleaned_data["text"],
                uploads=form.cleaned_data["attachments"],
            )
        except (AttachmentError, TextError, TooManyMessages) as error:
            _refused(form, error)
        else:
            messages.success(request, _("Your message is sent."))
            return redirect("support:thread", thread_id=found.pk)
    context = {"thread": found, "messages_shown": messages_shown(found), "form": form}
    return render(request, "support/thread.html", context, status=400 if form.errors else 200)


def file_response(attachment: Attachment) -> FileResponse:
    """A stored file with its checked type; a PDF is downloaded, a photo shown."""
    try:
        handle = open(file_path(attachment.stored), "rb")  # noqa: SIM115 - FileResponse closes it
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=attachment.content_type == PDF,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    try:
        found = attachment_of(_login(request), attachment_id)
    except Attachment.DoesNotExist as exc:
        raise Http404 from exc
    return file_response(found)

"""The customer's forms: a new question, and a further message in a thread."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account
from meterdesk.support.attachments import MAX_BYTES, MAX_FILES, TOO_MANY, AttachmentError, Upload
from meterdesk.support.messages import attachment_message
from meterdesk.support.models import Topic
from meterdesk.support.services import MAX_TEXT


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Up to ``MAX_FILES`` files, read into ``Upload``s (each at most ``MAX_BYTES``: a larger
    one is refused before it is read whole)."""

    widget = MultipleFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"})

    def clean(self, data: Any, initial: Any = None) -> list[Upload]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > MAX_FILES:
            raise ValidationError(attachment_message(AttachmentError(TOO_MANY, "")), code=TOO_MANY)
        uploads = []
        for item in files:
            upload: UploadedFile = item
            name = str(upload.name or "")
            if (upload.size or 0) > MAX_BYTES:
                raise ValidationError(
                    attachment_message(AttachmentError("attachment_too_large", name)),
                    code="attachment_too_large",
                )
            uploads.append(Upload(name=name, data=upload.read()))
        return uploads


def _files_help() -> str:
    text = gettext("Up to %(n)s files: photos (JPEG, PNG) or PDF scans, each at most %(mb)s MB.")
    return text % {"n": MAX_FILES, "mb": MAX_BYTES // 2**20}


def _files_field() -> FilesField:
    return FilesField(label=_("Attachments"), required=False, help_text=lazy(_files_help, str)())


class AccountField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.number} · {obj.address}"


class ThreadForm(forms.Form):
    topic = forms.ChoiceField(label=_("Topic"), choices=Topic.choices)
    account = AccountField(
        label=_("Personal account"), queryset=Account.objects.none(), required=False, empty_label="—"
    )
    text = forms.CharField(
        label=_("Your question"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6})
    )
    attachments = _files_field()

    def __init__(self, *args: Any, accounts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["account"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = accounts
        if accounts.count() == 1:
            field.initial = accounts.first()


class WriteForm(forms.Form):
    text = forms.CharField(label=_("Message"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = _files_field()

"""A login's notices in the personal account, its choices per topic and channel, and the one-click
unsubscribe link of every reminder e-mail (RFC 8058)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from meterdesk.customers.models import User
from meterdesk.notify.models import DEFAULT_ON, Notice, NoticeChannel, Preference, Topic
from meterdesk.notify.send import unsubscribe_read


def preference_set(user_id: int, topic: str, channel: str, enabled: bool) -> None:
    Preference.objects.update_or_create(
        user_id=user_id,
        topic=topic,
        channel=channel,
        defaults={"enabled": enabled, "changed_at": timezone.now()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    chosen = {(p.topic, p.channel): p.enabled for p in Preference.objects.filter(user=user)}
    if request.method == "POST":
        for topic in Topic:
            for channel in NoticeChannel:
                on = request.POST.get(f"{topic}:{channel}") == "on"
                if on != chosen.get((topic, channel), DEFAULT_ON[channel]):
                    preference_set(user.pk, topic, channel, on)
        messages.success(request, _("Your choices are saved."))
        return redirect("notify:preferences")
    rows = [
        (
            topic,
            [
                (channel, chosen.get((topic.value, channel.value), DEFAULT_ON[channel]))
                for channel in NoticeChannel
            ],
        )
        for topic in Topic
    ]
    has_mobile = user.phones.filter(number__startswith="+79").exists()
    return render(
        request,
        "notify/preferences.html",
        {"rows": rows, "channels": list(NoticeChannel), "has_mobile": has_mobile},
    )


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    latest = list(
        Notice.objects.filter(user=user, channel=NoticeChannel.CABINET).order_by("-created_at")[:30]
    )
    Notice.objects.filter(pk__in=[n.pk for n in latest if n.read_at is None]).update(read_at=timezone.now())
    return render(request, "notify/notices.html", {"notices": latest})


@csrf_exempt  # RFC 8058: the mail client posts "List-Unsubscribe=One-Click" with no page of ours
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user_id, topic, channel = unsubscribe_read(token)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return render(request, "notify/unsubscribe.html", {"state": "bad"}, status=400)
    if (
        topic not in Topic.values
        or channel not in NoticeChannel.values
        or not User.objects.filter(pk=user_id).exists()
    ):
        return render(request, "notify/unsubscribe.html", {"state": "bad"}, status=400)
    label = Topic(topic).label
    if request.method == "POST":
        preference_set(user_id, topic, channel, False)
        return render(request, "notify/unsubscribe.html", {"state": "done", "topic": label})
    return render(request, "notify/unsubscribe.html", {"state": "ask", "topic": label})

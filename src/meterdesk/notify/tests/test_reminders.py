"""The readings reminders: who gets them and by which channel, stored once per event whatever runs
twice, sent in batches with an unsubscribe link, SMS kept out of the quiet hours, and the pages."""

from __future__ import annotations

from datetime import date, datetime
from unittest import mock

import pytest
from click.testing import CliRunner
from django.core import mail
from django.test import Client

from meterdesk.cli import main
from meterdesk.customers.models import Phone
from meterdesk.notify.models import Notice, NoticeChannel, Preference, Topic
from meterdesk.notify.prepare import reminders_due, reminders_prepare
from meterdesk.notify.send import notices_send, quiet_now, unsubscribe_token
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory, UserFactory, link

pytestmark = pytest.mark.django_db

DEC = date(2026, 12, 1)
NOON = datetime(2026, 12, 15, 12, 0, tzinfo=MOSCOW)


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.METERDESK_READING_WINDOW = "15-25"
    settings.METERDESK_SITE_URL = "https://lk.example.ru"
    settings.METERDESK_NOTIFY_QUIET_HOURS = "21:00-09:00"
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SMS_BACKEND = "file"
    settings.METERDESK_SMS_PER_DAY = 3


def household(email: str, *, read: bool = False, language: str = "ru"):
    meter = MeterFactory()
    user = UserFactory(email=email, language=language)
    link(user, meter.account)
    if read:
        ReadingFactory(meter=meter, period=DEC)
    return user, meter


def test_those_still_to_give_readings_get_one_notice_per_channel(settings):
    anna, anna_meter = household("anna@example.com")
    household("boris@example.com", read=True)  # gave them already
    done = reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    assert (done.households, done.created, done.existing) == (1, 2, 0)
    notices = {n.channel: n for n in Notice.objects.all()}
    assert set(notices) == {NoticeChannel.EMAIL, NoticeChannel.CABINET}  # no SMS unless asked for
    email = notices[NoticeChannel.EMAIL]
    assert email.to == "anna@example.com" and email.user == anna and email.account == anna_meter.account
    assert email.key == f"window_open:2026-12:{anna_meter.account_id}:{anna.pk}:email"
    assert (
        "принимаются с 15 декабря по 25 декабря" in email.body
        and "https://lk.example.ru/cabinet/" in email.body
    )
    assert notices[NoticeChannel.CABINET].sent_at is not None  # delivered as it is stored


def test_preparing_again_stores_nothing_twice():
    household("anna@example.com")
    first = reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    again = reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    assert (first.created, again.created, again.existing) == (2, 0, 2)
    assert Notice.objects.count() == 2
    closing = reminders_prepare(Topic.WINDOW_CLOSING, date(2026, 12, 23))  # another event
    assert closing.created == 2 and Notice.objects.count() == 4


def test_a_login_s_choices_count_and_sms_go_to_its_mobile(settings):
    anna, _meter = household("anna@example.com", language="en")
    Phone.objects.create(user=anna, number="+74951234567", label="home")  # a landline: no SMS
    Phone.objects.create(user=anna, number="+79161234567")
    Preference.objects.create(user=anna, topic=Topic.WINDOW_OPEN, channel=NoticeChannel.SMS, enabled=True)
    Preference.objects.create(user=anna, topic=Topic.WINDOW_OPEN, channel=NoticeChannel.EMAIL, enabled=False)
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    channels = dict(Notice.objects.values_list("channel", "to"))
    assert channels == {NoticeChannel.SMS: "+79161234567", NoticeChannel.CABINET: ""}
    sms = Notice.objects.get(channel=NoticeChannel.SMS)
    assert sms.body.startswith("Energosbyt: readings of account") or "readings of account" in sms.body
    assert "until 25 December" in sms.body


def test_the_sender_mails_with_one_click_unsubscribe_and_keeps_sms_for_the_morning(settings, tmp_path):
    anna, _meter = household("anna@example.com")
    Phone.objects.create(user=anna, number="+79161234567")
    Preference.objects.create(user=anna, topic=Topic.WINDOW_OPEN, channel=NoticeChannel.SMS, enabled=True)
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    night = datetime(2026, 12, 15, 23, 30, tzinfo=MOSCOW)
    assert quiet_now(night) and not quiet_now(NOON)
    result = notices_send(now=lambda: night)
    assert (result.claimed, result.sent) == (1, 1)  # the e-mail only
    (letter,) = mail.outbox
    assert letter.to == ["anna@example.com"] and "15 декабря" not in letter.subject
    url = letter.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://lk.example.ru/notify/unsubscribe/")
    assert letter.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not (tmp_path / "sms").exists()
    morning = datetime(2026, 12, 16, 9, 5, tzinfo=MOSCOW)
    assert notices_send(now=lambda: morning).sent == 1
    assert len(list((tmp_path / "sms").glob("*.txt"))) == 1
    assert notices_send(now=lambda: morning).claimed == 0  # nothing sent twice
    assert Notice.objects.filter(sent_at__isnull=True).count() == 0


def test_a_claimed_batch_of_a_dead_sender_is_sent_after_its_lease(settings):
    household("anna@example.com")
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    from meterdesk.notify.send import LEASE, _claim

    assert len(_claim(100, NOON)) == 1  # a sender claims it, then dies before sending
    assert notices_send(now=lambda: NOON).claimed == 0  # still leased
    later = NOON + LEASE
    assert notices_send(now=lambda: later).sent == 1 and len(mail.outbox) == 1


def test_a_refused_sms_is_given_up_at_once_and_a_mail_server_down_tried_again(settings):
    anna, _meter = household("anna@example.com")
    Phone.objects.create(user=anna, number="+79161234567")
    Preference.objects.create(user=anna, topic=Topic.WINDOW_OPEN, channel=NoticeChannel.SMS, enabled=True)
    settings.METERDESK_SMS_PER_DAY = 0  # the number had its messages today
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    with mock.patch("meterdesk.notify.send.get_connection") as connection:
        connection.return_value.open.side_effect = ConnectionRefusedError("no mail server")
        result = notices_send(now=lambda: NOON)
    assert (result.sent, result.retried, result.given_up) == (0, 1, 1)
    email = Notice.objects.get(channel=NoticeChannel.EMAIL)
    assert email.failed_at is None and email.next_attempt_at > NOON and "no mail server" in email.last_error
    assert Notice.objects.get(channel=NoticeChannel.SMS).failed_at is not None


def test_one_click_unsubscribe_stops_that_topic_by_that_channel():
    anna, _meter = household("anna@example.com")
    token = unsubscribe_token(anna.pk, Topic.WINDOW_OPEN, NoticeChannel.EMAIL)
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(f"/notify/unsubscribe/{token}/")
    assert page.status_code == 200 and 'data-testid="unsubscribe"' in page.content.decode()
    assert not Preference.objects.exists()  # opening the link changes nothing
    done = anonymous.post(f"/notify/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'data-testid="unsubscribed"' in done.content.decode()
    assert Preference.objects.get().enabled is False
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    assert list(Notice.objects.values_list("channel", flat=True)) == [NoticeChannel.CABINET]
    reminders_prepare(Topic.WINDOW_CLOSING, date(2026, 12, 23))  # another topic still comes
    assert Notice.objects.filter(topic=Topic.WINDOW_CLOSING, channel=NoticeChannel.EMAIL).exists()
    assert anonymous.post("/notify/unsubscribe/forged/").status_code == 400


def test_the_preferences_page_and_the_notices_page(client):
    anna, _meter = household("anna@example.com")
    client.force_login(anna)
    page = client.get("/notify/preferences/").content.decode()
    assert 'name="window_open:email" id="p-window_open-email" checked' in page
    assert 'name="window_open:sms" id="p-window_open-sms" aria' in page  # off by default
    for words in ("служба поддержки ответила", "выигран приз программы", "назначена проверка счётчика"):
        assert words in page  # every topic, the other parts' too
    assert 'name="support_answer:email"' in page and 'name="programme_win:sms"' in page
    others = {
        f"{topic}:{channel}": "on"
        for topic in Topic
        if topic != Topic.WINDOW_OPEN
        for channel in ("email", "cabinet")
    }
    client.post("/notify/preferences/", {"window_open:sms": "on", "window_open:cabinet": "on", **others})
    chosen = dict(Preference.objects.values_list("channel", "enabled"))
    assert chosen == {NoticeChannel.SMS: True, NoticeChannel.EMAIL: False}  # only what differs is stored
    assert set(Preference.objects.values_list("topic", flat=True)) == {Topic.WINDOW_OPEN}
    reminders_prepare(Topic.WINDOW_OPEN, date(2026, 12, 15))
    notices = client.get("/notify/").content.decode()
    assert "Показания за декабрь 2026: принимаются до 25 декабря" in notices and "новое" in notices
    assert "новое" not in client.get("/notify/").content.decode()  # read now


def test_which_reminders_a_day_calls_for():
    assert reminders_due(date(2026, 12, 15)) == [Topic.WINDOW_OPEN]
    assert reminders_due(date(2026, 12, 23)) == [Topic.WINDOW_CLOSING]
    assert reminders_due(date(2026, 12, 20)) == []


def test_the_commands(settings):
    household("anna@example.com")
    runner = CliRunner()
    first = runner.invoke(main, ["notify", "today", "--date", "2026-12-15"])
    assert first.exit_code == 0, first.output
    assert "window_open: 1 events; 2 notices stored now" in first.output
    assert "Sent 1" in first.output and len(mail.outbox) == 1
    again = runner.invoke(main, ["notify", "window-open", "--date", "2026-12-15"])
    assert "0 notices stored now, 2 stored before" in again.output and "Sent 0" in again.output
    assert len(mail.outbox) == 1
    quiet = runner.invoke(main, ["notify", "today", "--date", "2026-12-20"])
    assert "no readings reminder is due today" in quiet.output
    bad = runner.invoke(main, ["notify", "today", "--date", "15.12.2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_the_profile_leads_to_the_reminders(client):
    anna, _meter = household("anna@example.com")
    client.force_login(anna)
    page = client.get("/profile/").content.decode()
    assert 'data-testid="reminders-link"' in page and 'href="/notify/preferences/"' in page

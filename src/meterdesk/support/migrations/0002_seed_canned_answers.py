"""A handful of canned answers to the common questions, in Russian and English (titled in Russian,
as staff see them); staff edit them in the admin."""

from django.db import migrations

ANSWERS = [
    (
        "readings",
        "Когда передавать показания",
        "Показания принимаются в дни приёма, указанные на странице лицевого счёта: в личном "
        "кабинете, в приложении, по электронной почте и по телефону. Показания, переданные вне "
        "этих дней, учитываются в следующем месяце.",
        "Readings are taken on the days shown on the account's page: in the personal account, the "
        "app, by e-mail and by phone. Readings given outside those days count in the next month.",
    ),
    (
        "readings",
        "Начисление по среднему",
        "Если показания не переданы, начисление за месяц делается по среднему потреблению за "
        "прошлые месяцы, а после передачи показаний пересчитывается по фактическому расходу.",
        "When no readings are given, the month is charged by your average consumption of past "
        "months, and recalculated by the actual consumption once readings are given.",
    ),
    (
        "bill",
        "Как формируется счёт",
        "Счёт за месяц формируется в первые дни следующего месяца. В нём начисления по тарифу по "
        "каждой зоне, перерасчёты, оплаты и сумма к оплате; подробности — в разделе «Счета» "
        "личного кабинета.",
        "The month's bill is made in the first days of the next month. It shows the charges by the "
        "tariff for each zone, recalculations, payments and the amount due; the details are under "
        '"Bills" in the personal account.',
    ),
    (
        "payment",
        "Оплата ещё не видна",
        "Оплата через банк отражается на лицевом счёте в течение трёх рабочих дней, оплата картой "
        "или через СБП в личном кабинете — сразу. Если оплаты нет дольше, пришлите, пожалуйста, "
        "чек в этом обращении.",
        "A payment through a bank appears on the account within three working days, a payment by "
        "card or SBP in the personal account at once. If it takes longer, please send the receipt "
        "in this conversation.",
    ),
    (
        "meter",
        "Поверка счётчика",
        "Срок поверки указан в паспорте счётчика и в личном кабинете. Поверку или замену счётчика "
        "можно заказать по телефону или в личном кабинете; после неё пришлите, пожалуйста, фото "
        "свидетельства о поверке.",
        "The verification date is in the meter's passport and in the personal account. A "
        "verification or a new meter can be ordered by phone or in the personal account; "
        "afterwards please send a photo of the verification certificate.",
    ),
    (
        "",
        "Спасибо, закрываем",
        "Спасибо за обращение! Если останутся вопросы, ответьте в этом же обращении.",
        "Thank you for writing! If you have further questions, answer in this same conversation.",
    ),
]


def seed(apps, schema_editor):
    model = apps.get_model("support", "CannedAnswer")
    for topic, title, text_ru, text_en in ANSWERS:
        model.objects.get_or_create(
            title=title, defaults={"topic": topic, "text_ru": text_ru, "text_en": text_en}
        )


def unseed(apps, schema_editor):
    apps.get_model("support", "CannedAnswer").objects.filter(title__in=[a[1] for a in ANSWERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("support", "0001_threads_and_canned_answers")]

    operations = [migrations.RunPython(seed, unseed)]

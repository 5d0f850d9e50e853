"""``Participant.notified_seq``: the message last emailed about, by its delivery
sequence number, so that a "no flood" round ends when the reader has seen that message
(not merely visited the thread after the email).

Existing rows: a participant who has read the thread since their last email is between
rounds (``notified_seq`` 0, at or below any read mark); one who has not is in a round,
so their mark is put just short of it (``last_read_seq + 1``): both keep the answer the
old rule (read time against email time) gave them.
"""

from django.db import migrations, models
from django.db.models import F, Q


def backfill(apps, schema_editor):
    Participant = apps.get_model("wagtail_messenger", "Participant")
    in_round = Q(notified_at__isnull=False) & (
        Q(last_read_at__isnull=True) | Q(last_read_at__lt=F("notified_at"))
    )
    Participant.objects.filter(in_round).update(notified_seq=F("last_read_seq") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_messenger", "0008_unverified_guests_and_proven_addresses"),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="notified_seq",
            field=models.PositiveBigIntegerField(
                default=0,
                help_text="The delivery sequence number of the message last emailed about.",
                verbose_name="notified about",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

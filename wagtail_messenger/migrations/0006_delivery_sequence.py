"""The delivery sequence (``Message.seq``, ``Thread.last_seq``) and the read marks that
use it (``Participant.last_read_seq``).

1. the three columns are added (``seq`` NULL, the others 0);
2. existing messages are numbered per thread in the order they were sent
   (``created_at``, then id), held ones excepted (they get a number on release);
   ``Thread.last_seq`` is the thread's highest number, and each participant's
   ``last_read_seq`` the highest number sent at or before their ``last_read_at`` (0 when
   they never read). Through the ORM, thread by thread, on every database;
3. the unique (thread, seq) constraint is created (its index serves the poll).

Backwards, the columns go (the numbers are derived data).
"""

from django.db import migrations, models

BATCH = 500


def number_messages(apps, schema_editor):
    alias = schema_editor.connection.alias
    Thread = apps.get_model("wagtail_messenger", "Thread")
    Message = apps.get_model("wagtail_messenger", "Message")
    Participant = apps.get_model("wagtail_messenger", "Participant")
    thread_ids = Thread.objects.using(alias).order_by("pk").values_list("pk", flat=True)
    for thread_id in thread_ids.iterator(chunk_size=BATCH):
        rows = list(
            Message.objects.using(alias)
            .filter(thread_id=thread_id)
            .exclude(state="held")
            .order_by("created_at", "pk")
            .only("pk", "created_at")
        )
        for seq, message in enumerate(rows, start=1):
            message.seq = seq
        Message.objects.using(alias).bulk_update(rows, ["seq"], batch_size=BATCH)
        Thread.objects.using(alias).filter(pk=thread_id).update(last_seq=len(rows))
        readers = Participant.objects.using(alias).filter(
            thread_id=thread_id, last_read_at__isnull=False
        )
        for participant in readers.only("pk", "last_read_at"):
            seen = [m.seq for m in rows if m.created_at <= participant.last_read_at]
            if seen:
                Participant.objects.using(alias).filter(pk=participant.pk).update(
                    last_read_seq=seen[-1]
                )


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_messenger", "0005_outbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="seq",
            field=models.PositiveBigIntegerField(
                blank=True,
                editable=False,
                help_text="Position in the thread in the order messages were delivered.",
                null=True,
                verbose_name="delivery sequence",
            ),
        ),
        migrations.AddField(
            model_name="participant",
            name="last_read_seq",
            field=models.PositiveBigIntegerField(
                default=0,
                help_text="The delivery sequence number of the last message this person has seen.",
                verbose_name="read up to",
            ),
        ),
        migrations.AddField(
            model_name="thread",
            name="last_seq",
            field=models.PositiveBigIntegerField(
                default=0,
                editable=False,
                help_text="The sequence number of the latest delivered message.",
                verbose_name="last delivery sequence",
            ),
        ),
        migrations.RunPython(number_messages, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(fields=("thread", "seq"), name="wm_msg_thread_seq"),
        ),
    ]

"""Maintenance jobs: boundaries, dry runs, sites, batches, files, crashes, concurrency."""

import os
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Site

from wagtail_messenger import tasks
from wagtail_messenger.models import (
    Attachment,
    Message,
    MessengerSettings,
    Participant,
    Thread,
)
from wagtail_messenger.services import attachments, conversations, maintenance, participation
from wagtail_messenger.storage import attachment_storage

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
JOB_DAYS = {
    "purge_threads": "purge_inactive_threads_days",
    "purge_attachments": "purge_attachments_days",
    "empty_trash": "empty_trash_days",
    "auto_archive": "auto_archive_days",
}
# Real commits: files are deleted after them and other connections see them. (The
# ``site`` fixture rebuilds Wagtail's tree when an earlier such test flushed it.)
committing = pytest.mark.django_db(transaction=True)
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (set DATABASE_URL)"
)


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """A storage folder of this test's own, so the files it leaves can be listed."""
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {
            "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


def set_days(site, **days):
    """Turn jobs on for ``site`` (every other job off, so they cannot interfere)."""
    conf = MessengerSettings.for_site(site)
    for field in JOB_DAYS.values():
        setattr(conf, field, days.get(field, 0))
    conf.allowed_extensions = "txt, pdf"
    conf.save()
    return conf


@pytest.fixture
def make_thread(start, buyer, seller, site):
    counter = {"n": 0}

    def make(age=timedelta(0), *, now, file=False, thread_site=None, sender=buyer):
        counter["n"] += 1
        n = counter["n"]
        kwargs = {"subject": f"Question {n}", "body": f"Question number {n}, still for sale?"}
        if thread_site is not None:
            kwargs["site"] = thread_site
        if file:
            conf = MessengerSettings.for_site(site)
            upload = SimpleUploadedFile(f"receipt-{n}.txt", b"Receipt for the bike.", "text/plain")
            with attachments.stored_upload(upload, conf) as stored:
                thread = start(sender, seller, upload=stored, **kwargs).thread
        else:
            thread = start(sender, seller, **kwargs).thread
        age_thread(thread, now - age)
        return thread

    return make


def age_thread(thread, when):
    Thread.objects.filter(pk=thread.pk).update(last_message_at=when)
    Participant.objects.filter(thread=thread).update(last_message_at=when)
    Message.objects.filter(thread=thread).update(created_at=when)
    Attachment.objects.filter(message__thread=thread).update(created_at=when)


def attachment_of(thread):
    return Attachment.objects.get(message__thread=thread)


def stored(key):
    return bool(key) and attachment_storage().exists(key)


def run_command(name, *args):
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


# -- boundaries --------------------------------------------------------------------------


def test_inactive_threads_go_a_minute_after_the_period_and_stay_a_minute_before(site, make_thread):
    set_days(site, purge_inactive_threads_days=360)
    now = timezone.now()
    stays = make_thread(timedelta(days=360) - MINUTE, now=now)
    goes = make_thread(timedelta(days=360) + MINUTE, now=now)

    result = maintenance.purge_inactive_threads(now=now)

    assert list(Thread.objects.values_list("pk", flat=True)) == [stays.pk]
    assert not Message.objects.filter(thread_id=goes.pk).exists()
    assert not Participant.objects.filter(thread_id=goes.pk).exists()
    assert (result.threads_deleted, result.sites) == (1, 1)
    # The thread, its message and two participant rows.
    assert result.rows_deleted == 4


def test_old_attachment_files_go_and_the_message_says_it_expired(
    site, make_thread, django_capture_on_commit_callbacks, client, buyer
):
    set_days(site, purge_attachments_days=30)
    now = timezone.now()
    stays = attachment_of(make_thread(timedelta(days=30) - MINUTE, now=now, file=True))
    goes = attachment_of(make_thread(timedelta(days=30) + MINUTE, now=now, file=True))
    old_key = goes.file.name
    assert stored(old_key)

    with django_capture_on_commit_callbacks(execute=True):
        result = maintenance.purge_attachments(now=now)

    goes.refresh_from_db()
    stays.refresh_from_db()
    assert goes.is_expired and goes.file.name == ""
    assert not stored(old_key)
    assert Message.objects.filter(pk=goes.message_id).exists(), "the message stays"
    assert not stays.is_expired and stored(stays.file.name)
    assert (result.attachments_expired, result.files_deleted) == (1, 1)
    client.force_login(buyer)
    response = client.get(reverse("wagtail_messenger:attachment", args=[goes.pk]))
    assert response.status_code == 410
    assert "“receipt-2.txt” has expired" in response.content.decode()
    response = client.get(reverse("wagtail_messenger:attachment", args=[stays.pk]))
    assert (response.status_code, b"".join(response.streaming_content)) == (
        200,
        b"Receipt for the bike.",
    )


def test_trash_is_emptied_after_the_period_and_threads_nobody_sees_are_deleted(
    site, make_thread, actor, buyer, seller
):
    set_days(site, empty_trash_days=30)
    now = timezone.now()
    kept, emptied, gone = (make_thread(now=now) for _ in range(3))
    participation.trash(actor(buyer), [kept.pk, emptied.pk, gone.pk])
    participation.trash(actor(seller), [gone.pk])
    rows = Participant.objects.filter(folder=Participant.Folder.TRASH)
    # Nothing arrived since: a message would have taken the thread out of the trash.
    Participant.objects.update(last_message_at=now - timedelta(days=40))
    rows.filter(thread=kept).update(trashed_at=now - timedelta(days=30) + MINUTE)
    rows.exclude(thread=kept).update(trashed_at=now - timedelta(days=30) - MINUTE)

    result = maintenance.empty_trash(now=now)

    buyer_rows = dict(Participant.objects.filter(user=buyer).values_list("thread_id", "folder"))
    assert buyer_rows == {kept.pk: "trash", emptied.pk: "deleted"}
    assert not Thread.objects.visible_to(actor(buyer)).filter(pk=emptied.pk).exists()
    assert Thread.objects.visible_to(actor(seller)).filter(pk=emptied.pk).exists()
    assert not Thread.objects.filter(pk=gone.pk).exists(), "both sides emptied it"
    assert (result.participants_moved, result.threads_deleted) == (3, 1)


def test_idle_threads_are_archived_and_a_reply_brings_them_back(
    site, make_thread, actor, buyer, seller
):
    set_days(site, auto_archive_days=90)
    now = timezone.now()
    recent = make_thread(timedelta(days=90) - MINUTE, now=now)
    idle = make_thread(timedelta(days=90) + MINUTE, now=now)

    result = maintenance.auto_archive(now=now)

    folders = dict(Participant.objects.values_list("thread_id", "folder").filter(user=buyer))
    assert folders == {recent.pk: "inbox", idle.pk: "archive"}
    assert result.participants_moved == 2, "both people's rows"
    conversations.post_message(actor=actor(seller), thread=idle, body="Still interested?")
    assert Participant.objects.get(thread=idle, user=buyer).folder == "inbox"


def test_a_period_of_zero_turns_the_job_off(site, make_thread):
    set_days(site)
    now = timezone.now()
    make_thread(timedelta(days=5000), now=now)
    results = maintenance.run_all(now=now)
    assert Thread.objects.count() == 1
    assert all(r.sites == 0 and r.batches == 0 for r in results.values())


# -- dry run, sites, batches -------------------------------------------------------------


def test_dry_run_lists_what_would_go_and_changes_nothing(site, make_thread, actor, buyer):
    set_days(
        site,
        purge_inactive_threads_days=360,
        purge_attachments_days=30,
        empty_trash_days=30,
        auto_archive_days=90,
    )
    now = timezone.now()
    old = make_thread(timedelta(days=400), now=now, file=True)
    trashed = make_thread(timedelta(days=100), now=now)
    participation.trash(actor(buyer), [trashed.pk])
    Participant.objects.filter(folder="trash").update(trashed_at=now - timedelta(days=31))
    before = list(Participant.objects.order_by("pk").values_list("pk", "folder"))
    key = attachment_of(old).file.name

    out = run_command("messenger_maintenance", "--dry-run")

    assert f"would delete thread #{old.pk} “Question 1”" in out
    assert f"would empty thread #{trashed.pk} “Question 2” from the trash of Buyer" in out
    assert f"would expire attachment #{attachment_of(old).pk} “receipt-1.txt”" in out
    assert f"would archive thread #{trashed.pk}" in out
    assert "Total: 1 thread(s) would be deleted" in out
    assert Thread.objects.count() == 2
    assert list(Participant.objects.order_by("pk").values_list("pk", "folder")) == before
    assert not attachment_of(old).is_expired and stored(key)


def test_site_option_narrows_and_threads_without_a_site_follow_the_default(site, make_thread):
    other = Site.objects.create(hostname="other.example", port=80, root_page=site.root_page)
    set_days(site, purge_inactive_threads_days=360)
    set_days(other, purge_inactive_threads_days=360)
    now = timezone.now()
    on_default = make_thread(timedelta(days=400), now=now)
    siteless = make_thread(timedelta(days=400), now=now)
    Thread.objects.filter(pk=siteless.pk).update(site=None)
    on_other = make_thread(timedelta(days=400), now=now, thread_site=other)

    out = run_command("messenger_purge_threads", "--site", "other.example")
    assert "Total: 1 thread(s) were deleted" in out
    assert set(Thread.objects.values_list("pk", flat=True)) == {on_default.pk, siteless.pk}

    set_days(site)  # off on the default site: its site-less threads stay too
    maintenance.purge_inactive_threads(now=now)
    assert Thread.objects.count() == 2

    out = run_command("messenger_purge_threads", "--site", str(site.pk))
    assert "Total: 0 thread(s)" in out
    set_days(site, purge_inactive_threads_days=360)
    maintenance.purge_inactive_threads(site=site.hostname, now=now)
    assert not Thread.objects.exists()
    assert not Thread.objects.filter(pk=on_other.pk).exists()


def test_unknown_site_is_a_command_error(site):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No site matches nowhere.example"):
        run_command("messenger_maintenance", "--site", "nowhere.example")


def test_batches_of_two_over_five_rows_give_the_right_totals(site, make_thread):
    set_days(site, purge_inactive_threads_days=360, auto_archive_days=30)
    now = timezone.now()
    for _ in range(5):
        make_thread(timedelta(days=100), now=now)
    for _ in range(5):
        make_thread(timedelta(days=400), now=now)

    out = run_command("messenger_maintenance", "--batch-size", "2")

    assert "batch 3: 1 threads deleted (5 so far)" in out
    assert "Total: 5 thread(s) were deleted, 20 row(s) in all" in out
    # Ten participant rows of the five remaining threads, in batches of two.
    assert "Total: 10 thread(s) were archived (1 site(s), 5 batch(es))." in out
    assert Thread.objects.count() == 5
    assert not Participant.objects.filter(folder="inbox").exists()


@pytest.mark.parametrize("job", ["purge_threads", "empty_trash", "auto_archive"])
def test_a_batch_takes_the_same_queries_for_3_rows_as_for_30(site, make_thread, actor, buyer, job):
    from django.test.utils import CaptureQueriesContext

    set_days(site, **{JOB_DAYS[job]: 30})
    now = timezone.now()

    def queries(count):
        threads = [make_thread(timedelta(days=40), now=now) for _ in range(count)]
        participation.trash(actor(buyer), [t.pk for t in threads])
        Participant.objects.filter(folder="trash").update(trashed_at=now - timedelta(days=40))
        with CaptureQueriesContext(connection) as ctx:
            result = maintenance.JOBS[job][1](now=now)
        assert result.threads_deleted + result.participants_moved >= count
        return len(ctx)

    assert queries(3) == queries(30)


def test_a_scheduler_can_enqueue_the_jobs(site, make_thread):
    set_days(site, purge_inactive_threads_days=360)
    make_thread(timedelta(days=400), now=timezone.now())
    result = tasks.run_maintenance.enqueue()
    assert result.return_value["purge_threads"]["threads_deleted"] == 1
    assert not Thread.objects.exists()
    assert tasks.auto_archive.enqueue(site_id=site.pk).return_value["participants_moved"] == 0


# -- files -------------------------------------------------------------------------------


@pytest.mark.s3
def test_s3_objects_are_deleted_only_after_commit_and_never_while_referenced(
    site, make_thread, s3_storage, django_capture_on_commit_callbacks
):
    _storage, client, bucket = s3_storage
    set_days(site, purge_attachments_days=30)
    now = timezone.now()
    old = attachment_of(make_thread(timedelta(days=40), now=now, file=True))
    shared = attachment_of(make_thread(timedelta(days=40), now=now, file=True))
    recent_thread = make_thread(now=now)
    # A recent message pointing at the same stored object (e.g. a forwarded file).
    Attachment.objects.create(
        message=recent_thread.messages.get(),
        file=shared.file.name,
        name="copy.txt",
        content_type="text/plain",
        size=shared.size,
    )

    def keys():
        return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    assert keys() == {old.file.name, shared.file.name}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        maintenance.purge_attachments(now=now)
        assert keys() == {old.file.name, shared.file.name}, "nothing before the commit"
    for callback in callbacks:
        callback()

    assert keys() == {shared.file.name}, "the live copy keeps its object"
    old.refresh_from_db()
    assert old.is_expired and old.file.name == ""


@pytest.mark.s3
@committing
def test_purging_threads_removes_their_s3_objects(site, make_thread, s3_storage):
    _storage, client, bucket = s3_storage
    set_days(site, purge_inactive_threads_days=360)
    now = timezone.now()
    goes = make_thread(timedelta(days=400), now=now, file=True)
    stays = make_thread(timedelta(days=10), now=now, file=True)
    kept_key = attachment_of(stays).file.name

    result = maintenance.purge_inactive_threads(now=now)

    contents = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in contents] == [kept_key]
    assert list(Thread.objects.values_list("pk", flat=True)) == [stays.pk]
    assert not Thread.objects.filter(pk=goes.pk).exists()
    assert (result.threads_deleted, result.files_deleted) == (1, 1)


# -- crash and rerun ---------------------------------------------------------------------


class Crash(Exception):
    pass


def crash_at(stage, batch):
    def checkpoint(at, number, ids):
        if (at, number) == (stage, batch):
            raise Crash(f"{stage} in batch {number}")

    return checkpoint


def state():
    """What a run leaves: threads, attachments and their keys, and the stored files."""
    storage = attachment_storage()
    files = set()
    stack = ["messenger"]
    while stack:
        folder = stack.pop()
        if not storage.exists(folder):
            continue
        dirs, names = storage.listdir(folder)
        stack += [f"{folder}/{d}" for d in dirs]
        files |= {f"{folder}/{n}" for n in names}
    return {
        "threads": sorted(Thread.objects.values_list("subject", flat=True)),
        "attachments": sorted(
            (name, key, expired is None)
            for name, key, expired in Attachment.objects.values_list("name", "file", "expired_at")
        ),
        "files": sorted(files),
    }


@committing
@pytest.mark.parametrize("stage", [None, "committed", "files deleted", "expired"])
def test_threads_purge_crashing_in_the_second_batch_then_rerun_ends_like_a_clean_run(
    site, make_thread, stage
):
    set_days(site, purge_inactive_threads_days=360)
    now = timezone.now()
    for _ in range(5):
        make_thread(timedelta(days=400), now=now, file=True)
    keeps = make_thread(timedelta(days=10), now=now, file=True)

    if stage is not None:
        with pytest.raises(Crash):
            maintenance.purge_inactive_threads(now=now, batch_size=2, checkpoint=crash_at(stage, 2))
        assert Thread.objects.count() > 1, "stopped half-way"
    maintenance.purge_inactive_threads(now=now, batch_size=2)

    key = attachment_of(keeps).file.name
    assert state() == {
        "threads": ["Question 6"],
        "attachments": [("receipt-6.txt", key, True)],
        "files": [key],
    }


@committing
@pytest.mark.parametrize("stage", [None, "committed", "files deleted", "expired"])
def test_attachment_purge_crashing_in_the_second_batch_then_rerun_ends_like_a_clean_run(
    site, make_thread, stage
):
    set_days(site, purge_attachments_days=30)
    now = timezone.now()
    for _ in range(5):
        make_thread(timedelta(days=40), now=now, file=True)
    keeps = make_thread(timedelta(days=10), now=now, file=True)

    if stage is not None:
        with pytest.raises(Crash):
            maintenance.purge_attachments(now=now, batch_size=2, checkpoint=crash_at(stage, 2))
    result = maintenance.purge_attachments(now=now, batch_size=2)

    key = attachment_of(keeps).file.name
    expired = [(f"receipt-{n}.txt", "", False) for n in range(1, 6)]
    assert state() == {
        "threads": [f"Question {n}" for n in range(1, 7)],
        "attachments": sorted([*expired, ("receipt-6.txt", key, True)]),
        "files": [key],
    }
    if stage is None:
        assert (result.attachments_expired, result.files_deleted) == (5, 5)


# -- concurrency (PostgreSQL) ------------------------------------------------------------


def in_other_connection(fn):
    """Run ``fn`` in another thread, hence on its own database connection."""
    errors = []

    def target():
        try:
            fn()
        except Exception as error:  # reported to the test below
            errors.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=target)
    worker.start()
    return worker, errors


@pytest.mark.postgres_only
@on_postgres
@committing
def test_a_reply_committed_while_the_job_holds_the_batch_saves_the_thread(
    site, make_thread, actor, seller
):
    set_days(site, purge_inactive_threads_days=360)
    now = timezone.now()
    saved = make_thread(timedelta(days=400), now=now)
    doomed = make_thread(timedelta(days=400), now=now)

    def reply_now(stage, batch, ids):
        if stage != "picked":
            return
        assert saved.pk in ids, "the job picked the thread as inactive"
        reply = lambda: conversations.post_message(  # noqa: E731
            actor=actor(seller), thread=Thread.objects.get(pk=saved.pk), body="Yes, still here!"
        )
        worker, errors = in_other_connection(reply)
        worker.join(timeout=30)
        assert not errors

    result = maintenance.purge_inactive_threads(now=now, checkpoint=reply_now)

    assert list(Thread.objects.values_list("pk", flat=True)) == [saved.pk]
    assert saved.messages.count() == 2
    assert not Thread.objects.filter(pk=doomed.pk).exists()
    assert result.threads_deleted == 1


@pytest.mark.postgres_only
@on_postgres
@committing
def test_a_reply_being_written_is_skipped_without_waiting(site, make_thread, actor, seller):
    set_days(site, purge_inactive_threads_days=360, auto_archive_days=30)
    now = timezone.now()
    saved = make_thread(timedelta(days=400), now=now)
    written, job_done = threading.Event(), threading.Event()

    def slow_reply():
        with transaction.atomic():
            conversations.post_message(
                actor=actor(seller), thread=Thread.objects.get(pk=saved.pk), body="Yes!"
            )
            written.set()
            assert job_done.wait(timeout=30)

    worker, errors = in_other_connection(slow_reply)
    assert written.wait(timeout=30)
    try:
        results = maintenance.run_all(now=now)
    finally:
        job_done.set()
        worker.join(timeout=30)
    assert not errors
    assert results["purge_threads"].threads_deleted == 0
    assert saved.messages.count() == 2
    assert set(Participant.objects.values_list("folder", flat=True)) == {"inbox"}


# -- orphan files ------------------------------------------------------------------------


@pytest.fixture
def own_folder(settings, tmp_path):
    """The attachment storage in a folder of its own (other tests' files stay out)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {
            "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


def store_orphan(site, name="lost.txt"):
    conf = MessengerSettings.for_site(site)
    upload = SimpleUploadedFile(name, b"Receipt for the bike.", "text/plain")
    return attachments.store(upload, attachments.check_upload(upload, conf))


def make_old(folder, *keys, age=timedelta(days=1, minutes=1)):
    stamp = (timezone.now() - age).timestamp()
    for key in keys:
        os.utime(folder / key, (stamp, stamp))


def test_orphan_files_a_day_old_are_deleted_from_the_local_folder_and_nothing_else(
    site, make_thread, own_folder
):
    set_days(site)
    now = timezone.now()
    kept = attachment_of(make_thread(now=now, file=True)).file.name
    orphan, young = store_orphan(site), store_orphan(site)
    foreign = ["notes.txt", "messenger/README.txt", "messenger/2026/12/backup.sql"]
    for key in foreign:  # files of other people in the same folder
        (own_folder / key).parent.mkdir(parents=True, exist_ok=True)
        (own_folder / key).write_text("not the plugin's")
    make_old(own_folder, kept, orphan, *foreign)
    make_old(own_folder, young, age=timedelta(days=1) - MINUTE)

    out = run_command("messenger_purge_orphan_files", "--dry-run")
    assert f"would delete orphan file {orphan}" in out
    assert "Total: 1 orphan file(s) would be deleted, 2 old file(s) checked (1 batch(es))." in out
    assert stored(orphan)

    out = run_command("messenger_purge_orphan_files", "--batch-size", "1")
    assert "Total: 1 orphan file(s) were deleted, 2 old file(s) checked (2 batch(es))." in out
    assert not stored(orphan)
    assert all(stored(key) for key in [kept, young])
    assert all((own_folder / key).exists() for key in foreign)


def test_the_orphan_sweep_runs_with_the_other_jobs_and_as_a_task(site, make_thread, own_folder):
    set_days(site)
    orphans = [store_orphan(site) for _ in range(2)]
    make_old(own_folder, *orphans)
    assert "Delete orphan files" in run_command("messenger_maintenance", "--dry-run")
    # With a site it does nothing: orphans belong to no site.
    by_site = tasks.run_maintenance.enqueue(site_id=site.pk).return_value
    assert by_site["purge_orphan_files"]["files_deleted"] == 0
    assert tasks.run_maintenance.enqueue().return_value["purge_orphan_files"]["files_deleted"] == 2
    assert not any(stored(key) for key in orphans)
    later = timezone.now() + timedelta(days=2)
    orphan = store_orphan(site)
    assert tasks.purge_orphan_files.enqueue().return_value["files_deleted"] == 0
    assert maintenance.run_all(now=later)["purge_orphan_files"].files_deleted == 1
    assert not stored(orphan)


def test_the_orphan_sweep_takes_one_query_per_batch(site, make_thread, own_folder):
    from django.test.utils import CaptureQueriesContext

    set_days(site)
    later = timezone.now() + timedelta(days=2)

    def queries(count):
        for _ in range(count):
            store_orphan(site)
        with CaptureQueriesContext(connection) as ctx:
            result = maintenance.purge_orphan_files(now=later)
        assert result.files_deleted == count
        return len(ctx)

    assert queries(3) == queries(30) == 1

"""The real parts the suite relies on answer as expected (so a broken recipe fails here,
not in a confusing way elsewhere)."""

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


@pytest.mark.s3
def test_moto_refuses_anonymous_get_of_private_object(s3_storage):
    import urllib.error
    import urllib.request

    storage, client, bucket = s3_storage
    from django.core.files.base import ContentFile

    key = storage.save("probe.txt", ContentFile(b"secret"))
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == 6
    url = f"{client.meta.endpoint_url}/{bucket}/{key}"
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url, timeout=5)  # noqa: S310
    assert excinfo.value.code == 403


@pytest.mark.smtp
def test_smtp_server_receives_django_mail(smtp_server):
    mail.send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
    assert [m.rcpt_tos for m in smtp_server.messages] == [["to@example.com"]]


def test_redis_cache_is_shared(redis_cache):
    redis_cache.set("k", 1)
    assert redis_cache.incr("k") == 2

"""Fixtures for the real parts: moto's S3 server, a local SMTP server, Redis, Chromium.

Loaded by conftest.py. Each fixture checks its part and calls ``require_part`` (skip on
a newcomer's machine with how-to-get-it, fail under CI).
"""

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid

import pytest
from django.core.files.storage import storages

from .conftest import require_part

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- S3 (moto's server mode: a real S3 HTTP API on 127.0.0.1) -------------------------


@pytest.fixture(scope="session")
def s3_server():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require_part(False, "S3 tests need moto's server: pip install 'moto[server]'")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_server, settings):
    """Points the attachment storage at a fresh private bucket on the moto server and
    returns ``(storage, boto3_client, bucket)``."""
    import boto3

    bucket = f"messenger-{uuid.uuid4().hex[:12]}"
    creds = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **creds)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    yield storages["wagtail_messenger"], client, bucket


class FaultyProxy:
    """A TCP proxy on 127.0.0.1 in front of a real server (moto's S3), that can misbehave.

    ``mode`` decides what happens to the server's answers once a request whose method is
    in ``methods`` has been seen (all methods when ``methods`` is empty):

    * ``"pass"``: forwarded as they come;
    * ``"trickle"``: forwarded ``trickle_bytes`` at a time every ``trickle_every``
      seconds, so no single read ever waits long enough for a socket timeout;
    * ``"drop"``: swallowed (the request reached the server, the answer never comes
      back), and no later request of any connection reaches the server: S3 going
      dark mid-upload, after it stored the object.

    Threads only, one pair per connection; :meth:`close` ends every connection.
    """

    def __init__(self, upstream):
        host, _sep, port = upstream.rpartition("//")[2].partition(":")
        self.upstream = (host, int(port))
        self.mode, self.methods = "pass", set()
        self.trickle_bytes, self.trickle_every = 16, 0.4
        self._dark = False  # a "drop" request was seen
        self._sockets = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def misbehave(self, mode, methods=(), *, trickle_bytes=16, trickle_every=0.4):
        with self._lock:
            self.mode, self.methods, self._dark = mode, set(methods), False
            self.trickle_bytes, self.trickle_every = trickle_bytes, trickle_every

    def _accept(self):
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            seen = {"method": b""}
            threading.Thread(target=self._up, args=(client, server, seen), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, seen), daemon=True).start()

    def _affected(self, seen):
        return not self.methods or seen["method"].decode() in self.methods

    def _up(self, source, target, seen):
        """Client to server, as it comes; notes the method of each request."""
        blocked = False
        while data := self._recv(source):
            method = data.split(b" ", 1)[0]
            if method.isalpha() and method.isupper():
                seen["method"] = method
                blocked = self._dark  # once dark, no later request reaches the server
                if self.mode == "drop" and self._affected(seen):
                    self._dark = True
            if not blocked and not self._send(target, data):
                break
        self._shut(target)

    def _down(self, source, target, seen):
        """Server to client, misbehaving as told."""
        while data := self._recv(source):
            if self._dark:
                continue
            if self.mode == "trickle" and self._affected(seen):
                for start in range(0, len(data), self.trickle_bytes):
                    time.sleep(self.trickle_every)
                    if not self._send(target, data[start : start + self.trickle_bytes]):
                        return
            elif not self._send(target, data):
                return
        self._shut(target)

    @staticmethod
    def _recv(sock):
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    @staticmethod
    def _send(sock, data):
        try:
            sock.sendall(data)
        except OSError:
            return False
        return True

    @staticmethod
    def _shut(sock):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def close(self):
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                self._shut(sock)
                sock.close()


@pytest.fixture
def faulty_s3(s3_server):
    """A :class:`FaultyProxy` in front of moto's server (passing everything at first)."""
    proxy = FaultyProxy(s3_server)
    yield proxy
    proxy.close()


# -- SMTP (aiosmtpd on 127.0.0.1, Django's SMTP backend pointed at it) -----------------


class SMTPRecorder:
    """Keeps every message the server accepted; ``fail_next(n)`` refuses the next n."""

    def __init__(self):
        self.messages = []
        self._failures = 0
        self._lock = threading.Lock()

    def fail_next(self, count=1):
        with self._lock:
            self._failures = count

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        with self._lock:
            if self._failures:
                self._failures -= 1
                return "451 4.3.0 Temporary failure, try again later"
            self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        require_part(False, "SMTP tests need aiosmtpd: pip install aiosmtpd")
    recorder = SMTPRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield recorder
    controller.stop()


# -- Redis (the shared cache for rate limits) ------------------------------------------


@pytest.fixture
def redis_cache(settings):
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        reachable = True
    except Exception:
        reachable = False
    require_part(reachable, f"Rate-limit tests need Redis at {url} (apt-get install redis-server)")
    prefix = f"wmtest-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        **settings.CACHES,
        "messenger": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        },
    }
    settings.WAGTAILMESSENGER_RATELIMIT_CACHE = "messenger"
    from django.core.cache import caches

    yield caches["messenger"]
    # Only this test's keys: ``clear()`` would empty the whole Redis database, under
    # the feet of the other test runs CI starts beside this one.
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


# -- Chromium through Playwright -------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_part(
        os.path.exists(CHROMIUM),
        "Browser tests need Debian's chromium (apt-get install chromium); "
        "never 'playwright install'",
    )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
        ],
    }

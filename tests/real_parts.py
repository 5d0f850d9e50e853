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


# -- IMAP (Debian's dovecot, started for the session on a free port) --------------------

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


class Dovecot:
    """A dovecot serving one mailbox (user ``replies``) over plain IMAP on 127.0.0.1."""

    user, password = "replies", "tests-only-imap"

    def __init__(self, folder):
        import pwd

        self.folder, self.port = folder, free_port()
        mail = folder / "mail"
        mail.mkdir(parents=True)
        if os.geteuid() == 0:
            # Dovecot's login process refuses to run as root, and mail may not be
            # owned by uid 0: the package's own users serve the mailbox.
            internal, login = "dovecot", "dovenull"
            owner = pwd.getpwnam("dovecot")
            uid, gid = owner.pw_uid, owner.pw_gid
            # Its processes must reach the folder (pytest's own are private to root).
            os.chmod(folder, 0o755)  # noqa: S103
            os.chown(mail, uid, gid)
        else:
            internal = login = pwd.getpwuid(os.getuid()).pw_name
            uid, gid = os.getuid(), os.getgid()
        (folder / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        self.config = folder / "dovecot.conf"
        self.config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
        )

    def start(self):
        import subprocess

        self.process = subprocess.Popen(  # noqa: S603
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return self
            time.sleep(0.1)
        self.stop()
        log = self.folder / "dovecot.log"
        raise RuntimeError(f"dovecot did not start: {log.read_text() if log.exists() else ''}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)

    def client(self):
        import imaplib

        mailbox = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        mailbox.login(self.user, self.password)
        return mailbox

    def clear(self):
        with self.client() as mailbox:
            _status, (count,) = mailbox.select("INBOX")
            if int(count):
                mailbox.store("1:*", "+FLAGS", "(\\Deleted)")
                mailbox.expunge()

    def deliver(self, raw):
        with self.client() as mailbox:
            mailbox.append("INBOX", None, None, raw)

    def flags(self):
        """``{Message-ID: set of flags}`` of the inbox."""
        import email

        with self.client() as mailbox:
            mailbox.select("INBOX")
            _status, found = mailbox.uid("SEARCH", None, "ALL")
            result = {}
            for uid in (found[0] or b"").split():
                _status, parts = mailbox.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER])")
                head = next(p for p in parts if isinstance(p, tuple))
                flags = head[0].decode().split("FLAGS (")[1].split(")")[0].split()
                result[email.message_from_bytes(head[1])["Message-ID"]] = set(flags)
            return result


@pytest.fixture(scope="session")
def dovecot():
    import pathlib
    import tempfile

    require_part(
        os.path.exists(DOVECOT),
        "IMAP tests need Debian's dovecot: apt-get install dovecot-imapd",
    )
    folder = pathlib.Path(tempfile.mkdtemp(prefix="messenger-dovecot-"))
    server = Dovecot(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def imap_mailbox(dovecot, settings):
    """The empty mailbox, named by ``WAGTAILMESSENGER_REPLY_IMAP``."""
    dovecot.clear()
    settings.WAGTAILMESSENGER_REPLY_IMAP = {
        "HOST": "127.0.0.1",
        "PORT": dovecot.port,
        "USER": dovecot.user,
        "PASSWORD": dovecot.password,
        "SSL": False,
    }
    return dovecot

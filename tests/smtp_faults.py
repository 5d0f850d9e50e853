"""A local SMTP server (aiosmtpd on 127.0.0.1) that misbehaves on demand, for the outbox's
fault tests: it can be down (stopped, then started again on the same port), answer 451,
accept a message and answer only after the client's timeout, or accept a message and
then hold the connection until the test lets go (while it kills the sender)."""

import asyncio
import email
import email.policy
import threading
from collections import Counter

import pytest

from .conftest import require_part
from .real_parts import SMTPRecorder, free_port


class FaultySMTP(SMTPRecorder):
    def __init__(self):
        super().__init__()
        self.data_commands = 0
        self._slow = 0
        self._slow_seconds = 0.0
        self._hold_at = None
        self._hold_accepts = True
        self.holding = threading.Event()  # the held message has arrived
        self.release = threading.Event()

    def accept_then_stall(self, count, seconds):
        """Accept the next ``count`` messages and answer each after ``seconds``."""
        with self._lock:
            self._slow, self._slow_seconds = count, seconds

    def hold(self, after=0, accept=True):
        """Hold the message after the next ``after`` ones (accepted first, if
        ``accept``) without answering until :attr:`release` is set."""
        with self._lock:
            self._hold_at, self._hold_accepts = self.data_commands + after, accept

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        with self._lock:
            number = self.data_commands
            self.data_commands += 1
            if self._failures:
                self._failures -= 1
                return "451 4.3.0 Temporary failure, try again later"
            held = number == self._hold_at
            if not held or self._hold_accepts:
                self.messages.append(envelope)
            slow = self._slow > 0 and not held
            if slow:
                self._slow -= 1
        if held:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        if slow:
            await asyncio.sleep(self._slow_seconds)
        return "250 OK"

    # -- what arrived ----------------------------------------------------------------

    def parsed(self):
        return [
            (rcpt, email.message_from_bytes(e.content, policy=email.policy.default))
            for e in self.messages
            for rcpt in e.rcpt_tos
        ]

    def figures(self, owed):
        """``(distinct Message-IDs delivered, lost, duplicates, duplicates with another
        Message-ID)`` for ``owed``: the (recipient, text of the subject) of each email
        that had to arrive."""
        arrived = Counter()
        ids = {}
        mixed = 0
        for rcpt, message in self.parsed():
            found = [key for key in owed if key[0] == rcpt and key[1] in message["Subject"]]
            key = found[0] if found else (rcpt, message["Subject"])
            arrived[key] += 1
            if key in ids and ids[key] != message["Message-ID"]:
                mixed += 1
            ids.setdefault(key, message["Message-ID"])
        lost = sum(1 for key in owed if not arrived[key])
        duplicates = sum(n - 1 for n in arrived.values() if n > 1)
        return len(set(ids.values())), lost, duplicates, mixed


class MailServer:
    """An aiosmtpd controller on a fixed port that can be stopped and started again."""

    def __init__(self, settings):
        from aiosmtpd.controller import Controller

        self.handler = FaultySMTP()
        self.port = free_port()
        self._controller_class = Controller
        self.controller = None
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5

    def start(self):
        self.controller = self._controller_class(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.handler.release.set()
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mail_server(settings):
    """A stoppable, misbehaving SMTP server, not started: ``mail_server.start()``."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        require_part(False, "SMTP tests need aiosmtpd: pip install aiosmtpd")
    server = MailServer(settings)
    yield server
    server.stop()

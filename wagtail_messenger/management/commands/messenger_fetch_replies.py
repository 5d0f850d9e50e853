"""Post the emailed replies waiting in a mailbox, for sites without an inbound webhook.

Point the reply domain's mail (``reply+*@REPLY_DOMAIN``) at a mailbox, describe it in
``WAGTAILMESSENGER_REPLY_IMAP`` and run this from cron every minute or two::

    * * * * * cd /srv/site && ./manage.py messenger_fetch_replies

Each unread email is read without marking it (``BODY.PEEK``), handed to
``services.replies.receive`` exactly as a provider's webhook would hand it, then marked
read (``--delete``: deleted). An email that cannot be handled now (storage or database
unavailable) stays unread for the next run; posting is idempotent by ``Message-ID``, so a
run killed between posting and marking posts nothing twice.
"""

import imaplib
import logging
import os
import ssl

from django.core.management.base import BaseCommand, CommandError

from ...conf import get_setting

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Post the replies waiting in the IMAP mailbox of WAGTAILMESSENGER_REPLY_IMAP."

    def add_arguments(self, parser):
        parser.add_argument("--host", help="IMAP server (default: the setting's HOST).")
        parser.add_argument("--port", type=int, help="Port (default: 993, or 143 without SSL).")
        parser.add_argument("--user", help="Login (default: the setting's USER).")
        parser.add_argument(
            "--password-env",
            metavar="NAME",
            help="Read the password from this environment variable (default: the "
            "setting's PASSWORD). Never on the command line, where other users see it.",
        )
        parser.add_argument("--mailbox", help="Folder to read (default: INBOX).")
        parser.add_argument("--no-ssl", action="store_true", help="Plain IMAP (with --starttls).")
        parser.add_argument("--starttls", action="store_true", help="Upgrade a plain connection.")
        parser.add_argument("--delete", action="store_true", help="Delete handled emails.")
        parser.add_argument(
            "--limit", type=int, default=200, help="At most this many emails per run."
        )

    def handle(self, *args, **options):
        from ...services import replies

        try:
            from anymail.inbound import AnymailInboundMessage
        except ImportError as error:
            raise CommandError(
                "Replies by email need django-anymail: pip install 'wagtail-messenger[email]'"
            ) from error
        if not replies.enabled():
            raise CommandError("Set WAGTAILMESSENGER_REPLY_DOMAIN to turn replies by email on.")
        conf = self.connection_settings(options)
        counts = {"posted": 0, "refused": 0, "ignored": 0, "left": 0}
        with self.connect(conf) as mailbox:
            status, _data = mailbox.select(conf["MAILBOX"])
            if status != "OK":
                raise CommandError(f"The mailbox {conf['MAILBOX']!r} cannot be opened.")
            _status, found = mailbox.uid("SEARCH", None, "UNSEEN")
            uids = (found[0] or b"").split()[: options["limit"]]
            for uid in uids:
                _status, parts = mailbox.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
                if raw is None:
                    continue
                try:
                    received = replies.receive(
                        AnymailInboundMessage.parse_raw_mime_bytes(raw), esp_name="imap"
                    )
                except Exception:
                    # Left unread: the next run tries it again.
                    logger.exception("Emailed reply %s not handled; kept for the next run", uid)
                    counts["left"] += 1
                    continue
                counts[received.outcome] += 1
                flags = "(\\Seen \\Deleted)" if options["delete"] else "(\\Seen)"
                mailbox.uid("STORE", uid, "+FLAGS", flags)
            if options["delete"]:
                mailbox.expunge()
        self.stdout.write(
            "Replies: {posted} posted, {refused} refused (the sender was told why), "
            "{ignored} ignored, {left} left for the next run.".format(**counts)
        )
        if counts["left"]:
            raise CommandError(f"{counts['left']} email(s) could not be handled now.")

    def connection_settings(self, options):
        conf = {
            "HOST": None,
            "PORT": None,
            "USER": None,
            "PASSWORD": None,
            "MAILBOX": "INBOX",
            "SSL": True,
            "STARTTLS": False,
            **(get_setting("REPLY_IMAP") or {}),
        }
        for option in ("host", "port", "user", "mailbox"):
            if options.get(option):
                conf[option.upper()] = options[option]
        if options.get("no_ssl"):
            conf["SSL"] = False
        if options.get("starttls"):
            conf["STARTTLS"] = True
        if options.get("password_env"):
            conf["PASSWORD"] = os.environ.get(options["password_env"])
        missing = [name for name in ("HOST", "USER", "PASSWORD") if not conf[name]]
        if missing:
            raise CommandError(
                "WAGTAILMESSENGER_REPLY_IMAP (or the options) must give " + ", ".join(missing) + "."
            )
        conf["PORT"] = int(conf["PORT"] or (993 if conf["SSL"] else 143))
        return conf

    def connect(self, conf):
        try:
            if conf["SSL"]:
                mailbox = imaplib.IMAP4_SSL(
                    conf["HOST"], conf["PORT"], ssl_context=ssl.create_default_context(), timeout=30
                )
            else:
                mailbox = imaplib.IMAP4(conf["HOST"], conf["PORT"], timeout=30)
                if conf["STARTTLS"]:
                    mailbox.starttls(ssl.create_default_context())
            mailbox.login(conf["USER"], conf["PASSWORD"])
        except (OSError, imaplib.IMAP4.error) as error:
            raise CommandError(
                f"Could not log in to {conf['HOST']}:{conf['PORT']} as {conf['USER']}: {error}"
            ) from error
        return mailbox

"""The simulated people of the load test (``bench/load.py``) and what they record.

Each client is an asyncio task with its own cookie jar (one :class:`Http`, an
``aiohttp`` session: the clients share the server's two cores, and aiohttp's C parser
costs them a third of what httpx did, measured, so the server keeps the CPU) that
pauses ``--pause`` seconds between any two of its requests, and does what a browser
does: it reads the CSRF token and the form's one-time key from the page it was shown,
follows the page's cursor when it polls, and sees an emailed link only once the SMTP
sink has received it.

- :class:`Reader`: a signed-in user reading their inbox, thread pages and the header
  total.
- :class:`Poller`: a signed-in user with one thread open, polling it the way
  ``thread.js`` does (``?after=<cursor>``, the cursor a delivery sequence number moved
  only by a poll's answer ``cursor``; a message whose id is already on the page is not
  added again), posting the read mark (``POST <thread>/read/`` with ``seen``) when the
  page opens with unread messages and after a poll brought messages, and now and then
  replying from the page as ``thread.js`` does (``fetch``; the answer's message is
  added, the cursor not moved, its key used next).
- :class:`Replier`: a signed-in seller answering threads from their inbox, half as plain
  form posts (302), half as ``fetch`` posts (JSON), with the form's idempotency key;
  some submits are sent twice (a double click: at once, or one after the other).
- :class:`Guest`: a visitor without an account writing about a listing (the form filled
  as a browser does, with the rendered form's hidden fields, the trap field left empty,
  sent no sooner than ``WAGTAILMESSENGER_FORM_MIN_SECONDS`` after the form was shown),
  waiting for the private link at the SMTP sink, following it, then reading and
  replying as a proven guest; then a new visitor.

Every thread page is treated as ``thread.js`` treats a visible page: when its
configuration says it has unread messages, the client posts the read mark with the
page's cursor. Reading the page or polling marks nothing by itself.

What they record (:class:`Recorder`) is what the consistency check
(``bench/load_checks.py``) compares with the database and the sink: every request's
kind, status and time; every message the server said it saved (``Sent``); every
read mark posted (``reads``, with a message of one's own the only requests that can
mark a thread read); what each poller was shown.
"""

import asyncio
import json
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import aiohttp

from bench.data import PASSWORD

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY_RE = re.compile(r'name="key" value="([0-9a-f]{32})"')
STAMP_RE = re.compile(r'name="wm_started" value="([^"]+)"')  # the form traps' timestamp
HONEYPOT = "wm_website"  # the trap field a person never sees, sent empty
MESSAGE_ID_RE = re.compile(r'data-id="(\d+)"')
INBOX_THREAD_RE = re.compile(r'name="thread" value="(\d+)"')
CONFIG_RE = re.compile(r'<script id="wm-thread-config" type="application/json">(.*?)</script>')
FORM_ERROR_RE = re.compile(r"data-wm-errors>(.*?)</div>", re.S)
LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[^/\s]+/)")
THREAD_URL_RE = re.compile(r"^/messages/(\d+)/")
SENT_RE = re.compile(r"#m(\d+)$")
JSON_HEADERS = {"Accept": "application/json", "X-Requested-With": "fetch"}
RATE_LIMIT_WORDS = ("Too many",)  # RateLimited's messages, shown in a form or a JSON answer


class Failed(Exception):
    """A request did not get the answer a browser expects (already recorded)."""


class Done(Exception):
    """The run's time is up: the client stops at its next pause."""


@dataclass
class Sent:
    """A message the server said it saved: one submit, or two with the same key."""

    token: str
    actor: str  # "user:<username>" or "guest:<email>"
    kind: str  # "reply", "reply_json" or "compose"
    thread_id: int | None  # None for a guest's first message (they learn it from the link)
    ids: list  # the message id each submit was answered with (none for a guest's compose)
    submits: int
    start: float
    end: float


@dataclass
class PollLog:
    actor: str
    thread_id: int
    page_ids: set
    cursor: int  # a delivery sequence number (Message.seq), as thread.js keeps it
    seen: set = field(default_factory=set)
    redelivered: int = 0  # messages a poll answered with that the page already showed
    polls: int = 0
    # Each move of the cursor: (source, start, cursor before, cursor after, ids added,
    # the answer's cursor), so that a missed message can be traced to what skipped it.
    moves: list = field(default_factory=list)
    marks: int = 0  # read marks posted


@dataclass
class GuestLog:
    email: str
    composed_at: float
    link_at: float | None = None
    thread_id: int | None = None
    saw_own_message: bool | None = None


class Response:
    """What a client reads of an answer: ``status_code``, ``headers``, ``text``,
    ``json()``."""

    def __init__(self, status_code, headers, body):
        self.status_code = status_code
        self.headers = headers
        self.text = body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.text)


class Http:
    """One person's browser: a cookie jar (for 127.0.0.1 too: ``unsafe``), redirects not
    followed, the whole body read. The session opens on the first request (aiohttp
    needs the running event loop)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = None

    async def request(self, method, url, *, params=None, data=None, headers=None):
        if self.session is None:
            self.session = aiohttp.ClientSession(
                base_url=self.base_url,
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                timeout=aiohttp.ClientTimeout(total=60),
                headers={"User-Agent": "wagtail-messenger-load"},
            )
        async with self.session.request(
            method, url, params=params, data=data, headers=headers, allow_redirects=False
        ) as response:
            return Response(response.status, response.headers, await response.read())

    async def aclose(self):
        if self.session is not None:
            await self.session.close()


class Recorder:
    def __init__(self):
        self.latency = defaultdict(list)  # kind -> [ms]
        self.statuses = Counter()  # (kind, status)
        self.errors = Counter()  # (kind, status or reason)
        self.error_samples = []
        self.rate_limited = Counter()  # kind
        self.sent = []
        self.unacknowledged = []  # (token, actor, kind, reason)
        self.reads = []  # read marks posted: (actor, thread_id, start, end)
        self.polls = []
        self.guests = []
        self.link_waits = []  # seconds from a guest's submit to their link at the sink
        self.problems = []  # what a client saw that a person would call a bug
        self.window = [None, None]  # the load's first and last request times
        self.duration = 0.0

    def took(self, kind, status, ms, end):
        self.latency[kind].append(ms)
        self.statuses[kind, status] += 1
        if kind != "poll_final":
            self.window[0] = end if self.window[0] is None else min(self.window[0], end)
            self.window[1] = end if self.window[1] is None else max(self.window[1], end)

    def fail(self, kind, reason, url, detail=""):
        self.errors[kind, reason] += 1
        if len(self.error_samples) < 30:
            self.error_samples.append(f"{kind} {reason} {url} {detail}"[:300])

    def read(self, actor, thread_id, start, end):
        self.reads.append((actor, thread_id, start, end))


class Context:
    """What every client shares: the server, the sink, the clock and the recorder."""

    def __init__(self, base_url, sink, pause, deadline, seed, double_rate=0.1, form_wait=0):
        self.base_url = base_url
        self.form_wait = form_wait  # seconds a person takes to fill a guest form
        self.sink = sink
        self.pause = pause
        self.deadline = deadline
        self.random = random.Random(seed)
        self.double_rate = double_rate
        self.recorder = Recorder()


class Client:
    kind = "client"

    def __init__(self, ctx, tag):
        self.ctx = ctx
        self.rec = ctx.recorder
        self.tag = tag
        self.random = random.Random(ctx.random.random())
        self.http = self.new_http()
        self.sequence = 0
        self.last_token = None
        self.threads = []

    def new_http(self):
        return Http(self.ctx.base_url)

    @property
    def actor(self):
        raise NotImplementedError

    async def run(self):
        await asyncio.sleep(self.random.uniform(0, self.ctx.pause[1]))  # spread the start
        started = False
        try:
            while time.time() < self.ctx.deadline:
                try:
                    if not started:
                        await self.start()
                        started = True
                    await self.next()
                    await self.step()
                except Failed:
                    await self.next()
        except Done:
            pass

    async def start(self):
        pass

    async def step(self):
        raise NotImplementedError

    async def next(self):
        """The pause between two requests; :class:`Done` once the time is up."""
        await asyncio.sleep(self.random.uniform(*self.ctx.pause))
        if time.time() >= self.ctx.deadline:
            raise Done

    async def call(self, kind, method, url, *, expect, **kwargs):
        start, clock = time.time(), time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except (aiohttp.ClientError, TimeoutError) as error:
            self.rec.took(kind, type(error).__name__, (time.perf_counter() - clock) * 1000, start)
            self.rec.fail(kind, type(error).__name__, url, str(error))
            raise Failed from error
        end = time.time()
        status = response.status_code
        self.rec.took(kind, status, (time.perf_counter() - clock) * 1000, end)
        if status == 429:
            self.rec.rate_limited[kind] += 1
            raise Failed
        if status not in expect:
            refusal = self.refusal(response)
            if refusal and any(word in refusal for word in RATE_LIMIT_WORDS):
                self.rec.rate_limited[kind] += 1
            else:
                reason = f"{status} (form refused)" if status == 200 else str(status)
                self.rec.fail(kind, reason, url, refusal or response.text[:120])
            raise Failed
        return response, start, end

    @staticmethod
    def refusal(response):
        """The error a refused form or JSON post shows, if any."""
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                return " ".join(response.json().get("errors") or [])
            except ValueError:
                return ""
        found = FORM_ERROR_RE.search(response.text)
        return re.sub(r"<[^>]+>", " ", found.group(1)).strip() if found else ""

    def token(self):
        self.sequence += 1
        return f"[ref {self.tag}m{self.sequence}]"

    # -- what every signed-in person and proven guest does ----------------------------

    async def inbox(self):
        response, _start, _end = await self.call("inbox", "GET", "/messages/", expect=(200,))
        self.threads = [int(t) for t in INBOX_THREAD_RE.findall(response.text)]
        return response.text

    async def open_thread(self, thread_id, kind="thread"):
        """The thread page, then what ``thread.js`` does on a visible page: post the read
        mark with the page's cursor when the page says it has unread messages."""
        response, _start, _end = await self.call(
            kind, "GET", f"/messages/{thread_id}/", expect=(200,)
        )
        page = response.text
        config = page_config(page)
        if config and config.get("unread") and config.get("cursor"):
            await self.mark_read(thread_id, page, config["cursor"])
        return page

    async def mark_read(self, thread_id, page, seen):
        """``POST <thread>/read/`` with ``seen=<sequence number>``, as ``thread.js``."""
        csrf, _key = _form_fields(page)
        response, start, end = await self.call(
            "read",
            "POST",
            f"/messages/{thread_id}/read/",
            data={"seen": str(seen), "csrfmiddlewaretoken": csrf or ""},
            headers=JSON_HEADERS,
            expect=(200,),
        )
        self.rec.read(self.actor, thread_id, start, end)
        return response

    async def reply(self, thread_id, page):
        """Reply through the page's form (as ``fetch`` or as a plain post), sometimes
        twice with the same key; then, like the page, perhaps once more with the key the
        JSON answer gave, or follow the plain post's redirect."""
        csrf, key = _form_fields(page)
        if csrf is None or key is None:
            self.rec.problems.append(f"{self.actor}: no reply form on thread {thread_id}")
            raise Failed
        as_json = self.random.random() < 0.5
        while True:
            answer = await self.submit(
                "reply_json" if as_json else "reply",
                f"/messages/{thread_id}/",
                {"csrfmiddlewaretoken": csrf, "key": key},
                thread_id,
                headers=JSON_HEADERS if as_json else {},
                expect=(200,) if as_json else (302,),
            )
            if as_json and answer.get("key") and self.random.random() < 0.3:
                key = answer["key"]
                await self.next()
                continue
            break
        if not as_json and answer.get("location"):
            await self.next()
            await self.open_thread(thread_id)

    async def submit(self, kind, url, fields, thread_id, *, headers, expect):
        """POST a new message once, or twice with the same fields; record it."""
        token = self.last_token = self.token()
        body = f"{token} {self.random.choice(BODIES)}"
        data = {**fields, "body": body}
        double = self.random.random() < self.ctx.double_rate
        submits = 2 if double else 1

        async def post():
            response, start, end = await self.call(
                kind, "POST", url, data=data, headers=headers, expect=expect
            )
            return response, start, end

        start = time.time()
        outcomes = []
        if double and self.random.random() < 0.5:
            outcomes = await asyncio.gather(post(), post(), return_exceptions=True)
        else:
            for _ in range(submits):
                try:
                    outcomes.append(await post())
                except Failed as error:
                    outcomes.append(error)
        end = time.time()
        answers = [o for o in outcomes if not isinstance(o, BaseException)]
        ids, answer = [], {}
        for response, _s, _e in answers:
            if "json" in response.headers.get("content-type", ""):
                answer = response.json()
                if answer.get("ok") and answer.get("messages"):
                    ids.append(answer["messages"][0]["id"])
            else:
                answer = {"location": response.headers.get("location", "")}
                found = SENT_RE.search(answer["location"])
                if found:
                    ids.append(int(found.group(1)))
        told = bool(ids) if kind != "compose" else bool(answers)
        if told:
            self.rec.sent.append(Sent(token, self.actor, kind, thread_id, ids, submits, start, end))
            if thread_id is not None:
                self.rec.read(self.actor, thread_id, start, end)
        else:
            reason = next((repr(o) for o in outcomes if isinstance(o, BaseException)), "no id")
            self.rec.unacknowledged.append((token, self.actor, kind, reason))
            raise Failed
        return answer


BODIES = [
    "Is it still available? I could come on Saturday.",
    "Would you take a little less for it?",
    "Thanks, that works for me. See you then.",
    "Could you send me another photo of the frame?",
    "Yes, it is still for sale. Evenings suit me best.",
]


def _form_fields(page):
    csrf, key = CSRF_RE.search(page), KEY_RE.search(page)
    return (csrf.group(1) if csrf else None), (key.group(1) if key else None)


def _trap_fields(page):
    """The guest form's traps as a browser sends them: the rendered timestamp, the
    hidden text box empty (none when the form has no traps)."""
    stamp = STAMP_RE.search(page)
    return {"wm_started": stamp.group(1), HONEYPOT: ""} if stamp else {}


def page_config(page):
    found = CONFIG_RE.search(page)
    return json.loads(found.group(1)) if found else None


class UserClient(Client):
    def __init__(self, ctx, tag, username):
        super().__init__(ctx, tag)
        self.username = username

    @property
    def actor(self):
        return f"user:{self.username}"

    async def start(self):
        response, _s, _e = await self.call("login_page", "GET", "/accounts/login/", expect=(200,))
        csrf = CSRF_RE.search(response.text).group(1)
        await self.next()
        await self.call(
            "login",
            "POST",
            "/accounts/login/",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf,
                "next": "/messages/",
            },
            expect=(302,),
        )


class Reader(UserClient):
    kind = "reader"

    async def step(self):
        choice = self.random.random()
        if choice < 0.45 or not self.threads:
            await self.inbox()
        elif choice < 0.9:
            await self.open_thread(self.random.choice(self.threads))
        else:
            await self.call("unread", "GET", "/messages/unread/", expect=(200,))


class Replier(UserClient):
    kind = "replier"

    async def step(self):
        if not self.threads or self.random.random() < 0.25:
            await self.inbox()
            await self.next()
        thread_id = self.random.choice(self.threads)
        page = await self.open_thread(thread_id)
        await self.next()
        await self.reply(thread_id, page)


class Poller(UserClient):
    kind = "poller"
    CHAT = 0.15  # the share of steps that reply from the open page instead of polling

    def __init__(self, ctx, tag, username, thread_id):
        super().__init__(ctx, tag, username)
        self.thread_id = thread_id
        self.log = None
        self.csrf = self.key = None
        self.page = None
        self.marked = 0  # what thread.js believes the server has as read

    async def start(self):
        await super().start()
        await self.next()
        response, _s, _e = await self.call(
            "thread", "GET", f"/messages/{self.thread_id}/", expect=(200,)
        )
        page = self.page = response.text
        config = page_config(page)
        shown = {int(i) for i in MESSAGE_ID_RE.findall(page)}
        cursor = config["cursor"] or 0
        self.log = PollLog(self.actor, self.thread_id, shown, cursor, set(shown))
        self.rec.polls.append(self.log)
        self.csrf, self.key = _form_fields(page)
        self.marked = 0 if config.get("unread") else cursor
        await self.mark_seen()

    async def mark_seen(self):
        """``markRead()`` of ``thread.js``: post the cursor when it is past the mark."""
        if self.log.cursor <= self.marked:
            return
        marking = self.log.cursor
        await self.mark_read(self.thread_id, self.page, marking)
        self.log.marks += 1
        self.marked = max(self.marked, marking)

    async def step(self):
        if self.random.random() < self.CHAT and self.key:
            await self.chat()
        else:
            await self.poll()

    def add(self, messages, source, start, answer_cursor=None):
        """What ``thread.js`` does with messages from a poll or a reply: skip an id the
        page already shows, else add it; only a poll's answer ``cursor`` moves the
        cursor (a reply's own number may be above one that commits later)."""
        log = self.log
        before, added = log.cursor, []
        for message in messages:
            if message["id"] in log.seen:
                log.redelivered += 1
                continue
            log.seen.add(message["id"])
            added.append(message["id"])
        if source == "poll":
            log.cursor = max(log.cursor, answer_cursor or 0)
        if log.cursor != before:
            log.moves.append((source, start, before, log.cursor, added, answer_cursor))

    async def chat(self):
        """A reply from the open page (``fetch``, JSON): the page adds the answer's
        message (its cursor stays) and takes the answer's fresh key."""
        fields = {"csrfmiddlewaretoken": self.csrf, "key": self.key}
        url = f"/messages/{self.thread_id}/"
        start = time.time()
        answer = await self.submit(
            "reply_json", url, fields, self.thread_id, headers=JSON_HEADERS, expect=(200,)
        )
        self.add(answer.get("messages") or [], "own reply", start)
        self.key = answer.get("key") or None

    async def poll(self, kind="poll"):
        log = self.log
        response, start, end = await self.call(
            kind,
            "GET",
            f"/messages/{self.thread_id}/poll/",
            params={"after": log.cursor},
            headers=JSON_HEADERS,
            expect=(200, 204),
        )
        log.polls += 1
        if response.status_code == 204:
            return
        data = response.json()
        self.add(data["messages"], "poll", start, data.get("cursor"))
        if data["messages"] and kind != "poll_final":
            await self.mark_seen()


class WarmUp(UserClient):
    """Opens every kind of page once, before the load, so that no web worker compiles
    templates or imports views in a measured request. Its requests are not timed with
    the load's, but its reads are kept: they may decide who is owed an email."""

    kind = "warm-up"

    def __init__(self, ctx, tag, username, thread_id, listing_id):
        super().__init__(ctx, tag, username)
        self.thread_id, self.listing_id = thread_id, listing_id

    async def next(self):
        pass

    async def warm(self):
        await self.start()
        await self.inbox()
        await self.open_thread(self.thread_id)
        await self.call(
            "poll",
            "GET",
            f"/messages/{self.thread_id}/poll/",
            params={"after": 0},
            headers=JSON_HEADERS,
            expect=(200,),
        )
        await self.call("unread", "GET", "/messages/unread/", expect=(200,))
        # A listing they already talk about opens that conversation (302), else the form.
        url = f"/messages/new/{self.listing_id}/"
        await self.call("compose_page", "GET", url, expect=(200, 302))
        await self.http.aclose()


class Guest(Client):
    kind = "guest"

    def __init__(self, ctx, tag, listings, link_timeout=30):
        super().__init__(ctx, tag)
        self.listings = listings  # listing page ids
        self.email = None
        self.visitors = 0
        self.thread_id = None
        self.rounds = 0
        self.link_timeout = link_timeout

    @property
    def actor(self):
        return f"guest:{self.email}"

    async def step(self):
        if self.thread_id is None or self.rounds <= 0:
            await self.new_visitor()
            return
        self.rounds -= 1
        page = await self.open_thread(self.thread_id)
        if self.random.random() < 0.6:
            await self.next()
            await self.reply(self.thread_id, page)

    async def new_visitor(self):
        await self.http.aclose()
        self.http = self.new_http()
        self.visitors += 1
        self.email = f"{self.tag}-{self.visitors}@guests.example.com"
        self.thread_id = None
        page_id = self.random.choice(self.listings)
        url = f"/messages/new/{page_id}/"
        response, _s, shown = await self.call("compose_page", "GET", url, expect=(200,))
        csrf, key = _form_fields(response.text)
        traps = _trap_fields(response.text)
        await self.next()
        if traps:  # a person takes a few seconds to write; a faster submit is a bot's
            await asyncio.sleep(max(0.0, shown + self.ctx.form_wait - time.time()))
        name = f"Guest {self.tag} {self.visitors}"
        fields = {"csrfmiddlewaretoken": csrf, "key": key, "name": name, "email": self.email}
        fields.update(traps)
        answer = await self.submit("compose", url, fields, None, headers={}, expect=(302,))
        log = GuestLog(self.email, time.time())
        self.rec.guests.append(log)
        await self.next()
        await self.call("compose_sent", "GET", answer["location"], expect=(200,))
        link = await self.wait_for_link(log)
        if link is None:
            return
        await self.next()
        response, _s, _e = await self.call("guest_link", "GET", link, expect=(302,))
        found = THREAD_URL_RE.match(response.headers.get("location", ""))
        if not found:
            self.rec.problems.append(f"{self.actor}: the link led to {response.headers}")
            raise Failed
        self.thread_id = log.thread_id = int(found.group(1))
        await self.next()
        page = await self.open_thread(self.thread_id)
        log.saw_own_message = self.last_token in page
        if not log.saw_own_message:
            self.rec.problems.append(f"{self.actor}: own first message not on the thread page")
        self.rounds = self.random.randint(1, 4)

    async def wait_for_link(self, log):
        """The private link from the guest-link email at the sink (not a notification,
        which carries a link too, but also a List-Unsubscribe header)."""
        until = min(time.time() + self.link_timeout, self.ctx.deadline)
        while time.time() < until:
            for received in self.ctx.sink.to(self.email):
                if received.message["List-Unsubscribe"]:
                    continue
                found = LINK_RE.search(received.text)
                if found:
                    log.link_at = received.at
                    self.rec.link_waits.append(received.at - log.composed_at)
                    return found.group(1)
            await asyncio.sleep(0.1)
        return None

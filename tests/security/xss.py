"""The XSS corpus, where it goes and where it comes out.

Each payload calls ``wmXss(<n>)``, ``n = payload * 100 + field``, so a marker found in a
page says which payload in which field it was. :func:`placements` fills each
user-controlled field with as many payloads as its length allows, round after round,
until every payload has been in every field. :func:`screens` are the pages, JSON answers,
admin screens and emails those fields show on.
"""

import json
import re
from html.parser import HTMLParser

from django.core import mail

MARKER = re.compile(r"wmXss\((\d+)\)")

PAYLOADS = (
    "<script>wmXss({n})</script>",
    "<img src=x onerror=wmXss({n})>",
    "<svg onload=wmXss({n})>",
    '"><script>wmXss({n})</script>',
    "'><img src=x onerror=wmXss({n})>",
    "</textarea><script>wmXss({n})</script>",
    "</title><script>wmXss({n})</script>",
    "</script><script>wmXss({n})</script>",
    '<iframe srcdoc="<script>parent.wmXss({n})</script>">',
    '<a href="javascript:wmXss({n})">x</a>',
    "javascript:wmXss({n})",
    "<details open ontoggle=wmXss({n})>",
    "<body onload=wmXss({n})>",
    "<input autofocus onfocus=wmXss({n})>",
    '<math><a xlink:href="javascript:wmXss({n})">m</a></math>',
    "\u2028<script>wmXss({n})</script>",
    "<scr<script>ipt>wmXss({n})</script>",
    "<<script>wmXss({n})//<</script>",
    "&lt;script&gt;wmXss({n})&lt;/script&gt;",
    '<object data="javascript:wmXss({n})">',
    '<video><source onerror="wmXss({n})">',
    "'-wmXss({n})-'",
    '"-wmXss({n})-"',
    "`${{wmXss({n})}}`",
    "[x](javascript:wmXss({n}))",
    'https://example.com/"onmouseover="wmXss({n})',
    "<a href=https://example.com onclick=wmXss({n})>x</a>",
    "<style>*{{background:url(javascript:wmXss({n}))}}</style>",
    '<form><button formaction="javascript:wmXss({n})">b</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=wmXss({n})>">',
)

#: User-controlled fields and the room each has (characters).
FIELDS = {
    "first_name": 150,
    "last_name": 150,
    "guest_name": 150,
    "team_name": 150,
    "listing_title": 255,
    "subject": 255,
    "body": 4000,
    "filename": 110,
    "report_reason": 2000,
    "ban_reason": 255,
    "site_name": 255,
    "settings_text": 1000,
    "search": 100,
    "bounce_detail": 500,
}
FIELD_NUMBERS = {name: i + 1 for i, name in enumerate(FIELDS)}


def payload(p, field):
    return PAYLOADS[p].format(n=p * 100 + FIELD_NUMBERS[field])


def placements():
    """``[{field: text}]``, one per round, until each payload has been in each field."""
    todo = {field: list(range(len(PAYLOADS))) for field in FIELDS}
    rounds = []
    while any(todo.values()):
        values = {}
        for field, room in FIELDS.items():
            text = ""
            while todo[field] and len(text) + len(payload(todo[field][0], field)) + 1 <= room:
                text += (" " if text else "") + payload(todo[field].pop(0), field)
            values[field] = text or "plain"
        rounds.append(values)
    return rounds


def decode(number):
    number = int(number)
    field = {v: k for k, v in FIELD_NUMBERS.items()}.get(number % 100, "?")
    return number // 100, field


# -- where a payload could run ---------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster"}


class Scanner(HTMLParser):
    """Markers in places a browser would run them: inline scripts, ``on*`` handlers,
    ``javascript:`` URLs, ``srcdoc`` documents."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hits = set()
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            runs = (
                name.startswith("on")
                or name == "srcdoc"
                or (name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"))
                or (name == "style" and "javascript:" in value.lower())
            )
            if runs:
                self.hits.update(MARKER.findall(value))
        if tag == "script":
            kind = dict(attrs).get("type") or "text/javascript"
            self.in_script = kind in ("text/javascript", "module", "application/javascript")
        if tag == "style":
            self.in_script = True

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.in_script = False

    def handle_data(self, data):
        if self.in_script:
            self.hits.update(MARKER.findall(data))


def executable(html):
    scanner = Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.hits


def json_fragments(value, key=""):
    """The strings of a JSON answer that are markup (``"html"``: the messages). The
    other strings are text, which the page's script must insert as text: the browser
    test checks that."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from json_fragments(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from json_fragments(item, key)
    elif isinstance(value, str) and key == "html":
        yield value


def scan_response(response):
    """``(markers shown, markers that would run)`` of a page or a JSON answer."""
    text = response.content.decode()
    shown = set(MARKER.findall(text))
    if response["Content-Type"].startswith("application/json"):
        hits = set()
        for fragment in json_fragments(json.loads(text)):
            hits |= executable(fragment)
        return shown, hits
    return shown, executable(text)


def emails_sent():
    """``[(name, subject, text, html)]`` of the emails in the outbox."""
    found = []
    for message in mail.outbox:
        html = next(
            (c for c, kind in getattr(message, "alternatives", []) if kind == "text/html"), ""
        )
        found.append((message.subject, message.body, html))
    return found

"""Message bodies are plain text: escaped, linked and allow-listed."""

from html.parser import HTMLParser

import pytest

from wagtail_messenger.templatetags.messenger_tags import messenger_text


def test_markup_is_shown_as_text():
    html = messenger_text('<script>alert(1)</script><img src=x onerror="alert(2)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_web_addresses_become_safe_links():
    html = messenger_text("See https://example.com/bike?id=1&x=2 please")
    assert '<a href="https://example.com/bike?id=1&amp;x=2"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


class Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self, html):
        super().__init__()
        self.found = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        'www.example.com" onmouseover="alert(1)',
        'https://example.com/"><svg onload=alert(1)>',
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_no_script_links_or_injected_attributes(text):
    for tag, attrs in Elements(messenger_text(text)).found:
        assert tag in {"a", "br"}
        assert set(attrs) <= {"href", "rel"}
        assert attrs.get("href", "https:").split(":")[0] in {"http", "https", "mailto"}


def test_line_breaks_are_kept():
    assert messenger_text("one\r\ntwo\nthree") == "one<br>two<br>three"

"""The markup of the two lists that make up most of the messenger's pages: inbox rows
and messages.

They are built here, in Python, rather than with ``{% include %}`` and a loop in a
template: the template engine costs about 3 µs per variable it prints, a row or a
message prints some 20, and a page shows 20 of them, which made the template loop the
largest single cost of the inbox and thread pages (see docs/performance.md). The page
templates print each item with ``{{ row }}`` / ``{{ message.html }}`` inside a block
(``inbox_row``, ``thread_message``) that a project can override with its own markup,
from the same prepared values.

Every value goes through :func:`esc`, Django's escaping; values that are already safe
markup (the message text from ``messenger_text``) go through it unchanged, exactly as
``{{ value }}`` treats them in a template. Attribute values are always quoted.
"""

from html import escape

from django.utils.safestring import mark_safe


def esc(value):
    """Django's ``conditional_escape`` without its check for lazy arguments (a third of
    its cost): safe markup passes unchanged, anything else is escaped."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


def optional(condition, markup):
    return markup if condition else ""


def inbox_row(row, labels, unblock_url):
    """One ``<li>`` of the inbox list from a row prepared by ``RowDisplay.decorate``."""
    if row.preview:
        you = f'<span class="wm-muted">{esc(labels["you"])}</span> '
        preview = optional(row.preview_is_mine, you) + esc(row.preview)
    elif row.preview_note:
        preview = f'<em class="wm-muted">{esc(row.preview_note)}</em>'
    else:
        preview = ""
    tags = ""
    if row.peer_blocked:
        tags += f'<span class="wm-row__tag">{esc(labels["blocked"])}</span>'
    if row.muted:
        muted_title = esc(labels["muted_title"])
        tags += f'<span class="wm-row__tag" title="{muted_title}">{esc(labels["muted"])}</span>'
    side = ""
    if row.peer_blocked and row.other is not None:
        side += (
            '<button type="submit" class="wm-actions__button"'
            f' formaction="{esc(unblock_url(row.other.pk))}">{esc(labels["unblock"])}</button>'
        )
    if row.unread_count:
        side += (
            f'<span class="wm-badge" title="{esc(labels["unread_title"])}">{row.unread_count}'
            f'<span class="wm-visually-hidden"> {esc(labels["unread"])}</span></span>'
        )
    gone = f' <span class="wm-muted">({esc(labels["listing_removed"])})</span>'
    flag = esc(row.flag_label)
    return mark_safe(  # noqa: S308 -- every value in it is escaped above or here
        f'<li class="{esc(row.css)}">'
        f'<input type="checkbox" name="thread" value="{row.thread_id}" class="wm-row__check"'
        f' aria-label="{esc(row.select_label)}">'
        f'<span class="wm-avatar{optional(row.avatar_is_guest, " wm-avatar--guest")}"'
        f' aria-hidden="true">{esc(row.avatar)}</span>'
        f'<a class="wm-row__link" href="{esc(row.url)}"><span class="wm-row__top">'
        f'<span class="wm-row__name">{esc(row.names)}</span>{tags}'
        f'<time class="wm-row__time" datetime="{esc(row.time_iso)}">{esc(row.time_label)}</time>'
        f'</span><span class="wm-row__listing">{esc(row.title)}'
        f"{optional(row.listing_is_gone, gone)}</span>"
        f'<span class="wm-row__preview">{preview}</span></a>'
        f'<span class="wm-row__side">{side}'
        f'<button type="submit" class="wm-flag{optional(row.flagged, " wm-flag--on")}"'
        f' formaction="{esc(row.flag_url)}" title="{flag}">'
        f'<span aria-hidden="true">{"★" if row.flagged else "☆"}</span>'
        f'<span class="wm-visually-hidden">{flag}</span></button></span></li>'
    )

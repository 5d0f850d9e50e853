// wagtail-messenger: the header widget "Messages (3)" and its drop-down.
// Reads the JSON endpoint given in data-url; builds the list with textContent only.

function render(widget, data) {
  const count = widget.querySelector("[data-wm-unread-count]");
  count.textContent = data.badge ? ` (${data.badge})` : "";
  count.hidden = !data.badge;
  if (!data.threads) return; // the total alone: the drop-down keeps its list
  const list = widget.querySelector("[data-wm-unread-list]");
  list.replaceChildren(...data.threads.map((thread) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = thread.url;
    const title = document.createElement("strong");
    title.textContent = thread.title;
    link.appendChild(title);
    if (thread.unread) {
      const badge = document.createElement("span");
      badge.className = "wm-badge";
      badge.textContent = thread.unread > 99 ? "99+" : String(thread.unread);
      link.append(" ", badge);
    }
    const preview = document.createElement("span");
    preview.className = "wm-unread-preview";
    preview.textContent = thread.with ? `${thread.with}: ${thread.preview}` : thread.preview;
    link.appendChild(preview);
    item.appendChild(link);
    return item;
  }));
}

// The total alone is one cheap query; the latest threads are asked for only when the
// drop-down is open.
async function refresh(widget, withThreads = false) {
  const url = withThreads ? `${widget.dataset.url}?threads=1` : widget.dataset.url;
  try {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.ok) render(widget, await response.json());
  } catch (error) {
    // keep what is shown
  }
}

for (const widget of document.querySelectorAll("[data-wm-unread]")) {
  const toggle = widget.querySelector("[data-wm-unread-toggle]");
  const menu = widget.querySelector("[data-wm-unread-menu]");
  toggle.addEventListener("click", (event) => {
    event.preventDefault();
    menu.hidden = !menu.hidden;
    toggle.setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) refresh(widget, true);
  });
  document.addEventListener("click", (event) => {
    if (!widget.contains(event.target)) {
      menu.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh(widget, !menu.hidden);
  });
  window.setInterval(() => {
    if (!document.hidden) refresh(widget, !menu.hidden);
  }, 30000);
}

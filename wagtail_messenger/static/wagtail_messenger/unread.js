// wagtail-messenger: keeps "Messages (3)" fresh, in the header widget
// ({% messenger_unread_widget %}, with its drop-down) and in the floating badge
// (<wagtail-messenger-badge>, whose markup lives in its shadow root). Reads the JSON
// endpoint given in data-url; builds the list with textContent only.

function parts(widget) {
  return widget.shadowRoot || widget;
}

function renderCount(widget, data) {
  const root = parts(widget);
  for (const box of root.querySelectorAll("[data-wm-unread-box]")) box.hidden = !data.badge;
  for (const count of root.querySelectorAll("[data-wm-unread-count]")) {
    count.textContent = data.badge || "";
  }
}

function renderThreads(widget, threads) {
  const list = widget.querySelector("[data-wm-unread-list]");
  if (!list || !threads) return; // the total alone: the drop-down keeps its list
  list.replaceChildren(...threads.map((thread) => {
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
    // The preview is the last message: say who wrote it ("You" for the viewer's own).
    preview.textContent = thread.from ? `${thread.from}: ${thread.preview}` : thread.preview;
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
    if (!response.ok) return;
    const data = await response.json();
    renderCount(widget, data);
    renderThreads(widget, data.threads);
  } catch (error) {
    // keep what is shown
  }
}

function keepFresh(widget, isOpen) {
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh(widget, isOpen());
  });
  window.setInterval(() => {
    if (!document.hidden) refresh(widget, isOpen());
  }, 30000);
}

function enhance(widget) {
  const toggle = widget.querySelector("[data-wm-unread-toggle]");
  const menu = widget.querySelector("[data-wm-unread-menu]");
  if (!toggle || !menu) {
    keepFresh(widget, () => false);
    return;
  }
  const close = () => {
    menu.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
  };
  toggle.addEventListener("click", (event) => {
    event.preventDefault();
    menu.hidden = !menu.hidden;
    toggle.setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) refresh(widget, true);
  });
  document.addEventListener("click", (event) => {
    if (!widget.contains(event.target)) close();
  });
  widget.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) {
      close();
      toggle.focus();
    }
  });
  keepFresh(widget, () => !menu.hidden);
}

for (const widget of document.querySelectorAll("[data-wm-unread]")) enhance(widget);

// wagtail-messenger: live thread page. Progressive enhancement of plain forms:
// everything works without this file (form posts, "older messages" links).
// Configuration comes from the json_script element "wm-thread-config" (no inline JS).

const JSON_HEADERS = { Accept: "application/json", "X-Requested-With": "fetch" };

function readConfig() {
  const node = document.getElementById("wm-thread-config");
  return node ? JSON.parse(node.textContent) : null;
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html; // server-rendered, escaped by Django templates
  return template.content;
}

function draftKey(form) {
  return `wm-draft:${new URL(form.action, window.location.href).pathname}`;
}

function clearDraft(form) {
  try { window.sessionStorage.removeItem(draftKey(form)); } catch (error) { /* private mode */ }
}

function keepDrafts(form, body) {
  // The text survives a reload of the tab (sessionStorage: this tab only, gone when it
  // closes), and is forgotten once sent.
  const key = draftKey(form);
  try {
    const kept = window.sessionStorage.getItem(key);
    if (kept && !body.value) body.value = kept;
  } catch (error) { return; }
  body.addEventListener("input", () => {
    try {
      if (body.value) window.sessionStorage.setItem(key, body.value);
      else window.sessionStorage.removeItem(key);
    } catch (error) { /* full or private mode: nothing kept */ }
  });
}

function countCharacters(body) {
  // Near the limit, how many characters are left (the textarea's maxlength stops more).
  const counter = body.closest(".wm-field")?.querySelector("[data-wm-counter]");
  const limit = Number(body.getAttribute("maxlength"));
  if (!counter || !limit) return;
  const near = Math.max(100, Math.round(limit / 10));
  const update = () => {
    const left = limit - body.value.length;
    counter.hidden = left > near;
    counter.textContent = counter.dataset.wmCounter.replace("%(count)s", String(left));
    counter.classList.toggle("wm-counter--none", left <= 0);
  };
  body.addEventListener("input", update);
  update();
}

function enhanceForms() {
  for (const form of document.querySelectorAll("form[data-wm-form]")) {
    const body = form.querySelector("textarea[name=body]");
    if (body) {
      keepDrafts(form, body);
      countCharacters(body);
      // Ctrl+Enter (Cmd+Enter on a Mac) sends, as in the big messengers.
      body.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    }
    // A double click posts once: the hidden key makes the server save one message, and
    // the button stays disabled while the first submit is on its way.
    form.addEventListener("submit", (event) => {
      const button = form.querySelector("[data-wm-submit]");
      window.setTimeout(() => {
        if (button) button.disabled = true;
        // A plain post leaves the page (the server keeps the text on an error); the
        // live reply (LiveThread.send) forgets the draft once it is saved.
        if (!event.defaultPrevented) clearDraft(form);
      }, 0);
    });
  }
}

class LiveThread {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    // The cursor is a delivery sequence number (Message.seq), moved only by the poll's
    // answer: never by a message this page posted, whose number may be above one that
    // commits later and has not been shown yet.
    this.cursor = config.cursor || 0;
    this.seen = this.cursor; // the highest number shown while the page was visible
    this.marked = config.unread ? 0 : this.cursor; // what the server has as read
    this.list = root.querySelector("[data-wm-messages]");
    // Screen readers hear the messages that arrive, not the list being filled (older
    // messages loaded on demand, the page's first render).
    this.announcer = root.querySelector("[data-wm-announce]");
    this.timer = null;
    this.busy = false;
  }

  start() {
    this.list.scrollIntoView({ block: "end" });
    const older = this.root.querySelector("[data-wm-older]");
    if (older) older.addEventListener("click", (event) => this.loadOlder(event, older));
    const form = this.root.querySelector(".wm-reply form[data-wm-form]");
    if (form) form.addEventListener("submit", (event) => this.send(event, form));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      this.markRead();
      if (this.config.live) this.poll();
    });
    this.markRead();
    if (!this.config.live) return;
    this.schedule();
  }

  schedule() {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.poll(), this.config.interval * 1000);
  }

  has(id) {
    return Boolean(this.list.querySelector(`[data-id="${Number(id)}"]`));
  }

  append(messages, { announce = false } = {}) {
    // De-duplicated by message id: a reply this page posted comes back in the poll.
    const empty = this.list.querySelector("[data-wm-empty]");
    if (messages.length && empty) empty.remove();
    const news = [];
    for (const message of messages) {
      if (this.has(message.id)) continue;
      const item = fragment(message.html).firstElementChild;
      this.list.appendChild(item);
      if (!item.classList.contains("wm-message--mine")) news.push(item);
    }
    if (announce && news.length && this.announcer) {
      this.announcer.textContent = news
        .map((item) => item.textContent.replace(/\s+/g, " ").trim())
        .join(" · ");
    }
  }

  async markRead() {
    // What the reader has been shown, once the page is visible: a page opened in a
    // background tab (or fetched by a mail scanner) marks nothing.
    if (document.visibilityState !== "visible" || !this.config.markReadUrl) return;
    this.seen = Math.max(this.seen, this.cursor);
    if (this.seen <= this.marked) return;
    const token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!token) return;
    const body = new FormData();
    body.append("seen", String(this.seen));
    body.append("csrfmiddlewaretoken", token.value);
    const marking = this.seen;
    try {
      const response = await fetch(this.config.markReadUrl, {
        method: "POST", body, headers: JSON_HEADERS, credentials: "same-origin",
      });
      if (response.ok) this.marked = Math.max(this.marked, marking);
    } catch (error) {
      // Offline for a moment: the next poll or visit marks it.
    }
  }

  async poll() {
    if (document.hidden || this.busy) {
      this.schedule();
      return;
    }
    this.busy = true;
    try {
      const url = `${this.config.pollUrl}?after=${encodeURIComponent(this.cursor)}`;
      const response = await fetch(url, { headers: JSON_HEADERS, credentials: "same-origin" });
      if (response.status === 200) {
        const data = await response.json();
        const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
        this.append(data.messages, { announce: true });
        this.cursor = Math.max(this.cursor, data.cursor || 0);
        if (atBottom && data.messages.length) this.list.lastElementChild.scrollIntoView({ block: "end" });
        if (data.messages.length) this.markRead();
      } else if (response.status === 404) {
        return; // the thread is gone or no longer ours: stop polling
      }
    } catch (error) {
      // Offline for a moment: try again at the next tick.
    } finally {
      this.busy = false;
    }
    this.schedule();
  }

  async loadOlder(event, link) {
    event.preventDefault();
    const url = `${this.config.olderUrl}?before=${encodeURIComponent(link.dataset.before)}`;
    const response = await fetch(url, { headers: JSON_HEADERS, credentials: "same-origin" });
    if (!response.ok) {
      window.location.href = link.href;
      return;
    }
    const data = await response.json();
    const first = this.list.firstElementChild;
    for (const message of data.messages) {
      if (!this.has(message.id)) this.list.insertBefore(fragment(message.html), first);
    }
    if (data.has_older && data.oldest_id) {
      link.dataset.before = data.oldest_id;
      link.href = `?before=${data.oldest_id}`;
    } else {
      link.closest(".wm-older").remove();
    }
  }

  showErrors(form, errors) {
    const box = form.querySelector("[data-wm-errors]");
    box.replaceChildren(...errors.map((text) => {
      const p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
    box.hidden = errors.length === 0;
  }

  async send(event, form) {
    event.preventDefault();
    const button = form.querySelector("[data-wm-submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: JSON_HEADERS,
        credentials: "same-origin",
      });
      const data = await response.json();
      if (data.ok) {
        this.append(data.messages);
        form.reset();
        // The emptied box forgets its draft and hides its counter (keepDrafts, countCharacters).
        form.querySelector("textarea[name=body]")?.dispatchEvent(new Event("input"));
        form.querySelector("input[name=key]").value = data.key;
        this.showErrors(form, []);
        this.list.lastElementChild.scrollIntoView({ block: "end" });
      } else {
        this.showErrors(form, data.errors || []);
      }
    } catch (error) {
      form.submit(); // fall back to the plain post
    } finally {
      button.disabled = false;
    }
  }
}

enhanceForms();
const config = readConfig();
const root = document.querySelector("[data-wm-thread]");
if (config && root) new LiveThread(root, config).start();

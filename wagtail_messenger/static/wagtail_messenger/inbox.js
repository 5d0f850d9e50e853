// wagtail-messenger inbox: a "select all" box for the bulk actions. Optional: without
// JavaScript every row keeps its own checkbox and the page works the same.
for (const inbox of document.querySelectorAll("[data-wm-inbox]")) {
  const all = inbox.querySelector("[data-wm-select-all]");
  const boxes = () => inbox.querySelectorAll('input[type="checkbox"][name="thread"]');
  if (!all) continue;
  all.closest("label").hidden = false;
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
  });
  inbox.addEventListener("change", (event) => {
    if (event.target.name !== "thread") return;
    const list = [...boxes()];
    all.checked = list.length > 0 && list.every((box) => box.checked);
    all.indeterminate = !all.checked && list.some((box) => box.checked);
  });
}

// Shipyard's dashboards: small progressive enhancements. Every page reads without them.
"use strict";

// A region with data-live="URL" re-reads itself from URL every few seconds, sending the
// ETag it has; the server answers 304 when nothing changed.
function live(region) {
  const url = region.dataset.live;
  const every = Number(region.dataset.every || 2000);
  let etag = region.dataset.etag || "";
  async function poll() {
    try {
      const headers = {"X-Shipyard-Live": "1"};
      if (etag) headers["If-None-Match"] = etag;
      const answer = await fetch(url, {headers, cache: "no-store", credentials: "same-origin"});
      if (answer.status === 401) {
        window.location.assign(region.dataset.login || "/ui/login");
        return;
      }
      if (answer.status === 200) {
        etag = answer.headers.get("ETag") || "";
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        region.replaceChildren(...page.body.childNodes);
        region.dataset.updated = String(Date.now());
      }
    } catch (_) {
      // The server may be restarting; try again at the next tick.
    }
    window.setTimeout(poll, every);
  }
  window.setTimeout(poll, every);
}

// A button with data-copy="ID" copies the text of the element with that id.
function copier(button) {
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
}

// A form with data-confirm="QUESTION" asks before it is sent.
function confirming(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// Filter menus apply themselves when changed.
function autoSubmit(select) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(live);
  document.querySelectorAll("button[data-copy]").forEach(copier);
  document.querySelectorAll("form[data-confirm]").forEach(confirming);
  document.querySelectorAll("select[data-auto]").forEach(autoSubmit);
});

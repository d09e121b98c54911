// Mamori console: the one small script (served from this server; the pages work without it).
// It asks before the actions that are hard to take back, and applies list filters on change.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const ask = {
    "reveal-form": document.documentElement.lang === "ja" ? "加入者の身元を開示します。よろしいですか？" : "Reveal this subscriber's identity? The reveal is audited.",
  };
  for (const [id, question] of Object.entries(ask)) {
    const form = document.getElementById(id);
    if (form) form.addEventListener("submit", (e) => { if (!window.confirm(question)) e.preventDefault(); });
  }
  // Forms that carry their own question (revoking a machine token).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
  }
  for (const select of document.querySelectorAll("form.filters select")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
});

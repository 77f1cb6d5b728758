// Documents: search, the paged list, upload and delete.

import { call } from "./api.js";
import { el, clear, note, table, num, when, busy } from "./dom.js";

const PAGE = 20;

export default function documents(root, perms) {
  clear(root, el("h2", null, "Documents"));
  if (perms.search === true) root.append(searchPanel());
  else root.append(note("Search needs the search permission, which this key lacks."));
  if (perms["documents.write"] === true) root.append(uploadPanel(() => list.reload()));
  const list = listPanel(perms);
  if (perms["documents.read"] === true) {
    root.append(list.node);
    list.reload();
  } else {
    root.append(note("Listing documents needs documents.read, which this key lacks."));
  }
}

function searchPanel() {
  const q = el("input", { type: "search", id: "doc-query", placeholder: "Search the documents", required: true });
  const k = el("input", { type: "number", id: "doc-k", min: "1", max: "100", value: "10", "aria-label": "Results" });
  const go = el("button", { type: "submit", id: "doc-search" }, "Search");
  const out = el("div", { id: "doc-hits" });
  const form = el("form", { class: "row" }, q, el("label", null, "k ", k), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(go, "Searching…", (async () => {
      try {
        const r = await call("POST", "/v1/search", { json: { query: q.value, k: Number(k.value) || 10 } });
        clear(out, el("p", { class: "muted" }, `${r.hits.length} hits in ${num(r.took_ms, 2)} ms`),
          el("ol", { class: "hits" }, r.hits.map((h) => el("li", null,
            el("div", null, el("strong", null, h.title || h.document_id), h.section ? el("span", { class: "muted" }, " — " + h.section) : null,
              el("span", { class: "score" }, " score " + num(h.score, 3))),
            snippet(h.snippet || h.text || ""),
            el("div", { class: "muted uri" }, `${h.collection} · ${h.uri}`)))));
      } catch (err) {
        clear(out, note(err.message, "error"));
      }
    })());
  });
  return el("div", { class: "panel" }, el("h3", null, "Search"), form, out);
}

// snippet marks the «matched» terms of a search snippet.
function snippet(s) {
  const p = el("p", { class: "snippet" });
  String(s).split(/«([^»]*)»/).forEach((part, i) => p.append(i % 2 ? el("mark", null, part) : part));
  return p;
}

function uploadPanel(done) {
  const files = el("input", { type: "file", id: "doc-files", multiple: true, required: true });
  const coll = el("input", { type: "text", id: "doc-collection", value: "default", pattern: "[A-Za-z0-9._-]{1,64}", "aria-label": "Collection" });
  const go = el("button", { type: "submit" }, "Upload");
  const out = el("div", { id: "doc-upload-result" });
  const form = el("form", { class: "row" }, files, el("label", null, "collection ", coll), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (files.files.length === 0) return;
    // Settings before the files: the server applies each field to the
    // file parts that follow it.
    const fd = new FormData();
    fd.append("collection", coll.value || "default");
    for (const f of files.files) fd.append("file", f, f.name);
    busy(go, "Uploading…", (async () => {
      try {
        const r = await call("POST", "/v1/documents", { body: fd });
        const s = r.summary || {};
        clear(out, el("p", { class: "ok" }, `Added ${num(s.added)}, updated ${num(s.updated)}, unchanged ${num(s.unchanged)}: `,
          (r.documents || []).map((d) => d.title || d.id).join(", ")));
        files.value = "";
        done();
      } catch (err) {
        clear(out, note(err.message, "error"));
      }
    })());
  });
  return el("div", { class: "panel" }, el("h3", null, "Upload"), form, out);
}

function listPanel(perms) {
  const coll = el("input", { type: "text", id: "doc-filter", placeholder: "every collection", "aria-label": "Collection filter" });
  const body = el("div", { id: "doc-list" });
  const prev = el("button", { type: "button", disabled: true }, "← Previous");
  const next = el("button", { type: "button", disabled: true }, "Next →");
  const cursors = [""]; // the "after" of each page shown so far
  let nextAfter = "";

  async function load() {
    const qs = new URLSearchParams({ limit: String(PAGE) });
    if (cursors.at(-1)) qs.set("after", cursors.at(-1));
    if (coll.value.trim()) qs.set("collection", coll.value.trim());
    try {
      const r = await call("GET", "/v1/documents?" + qs);
      nextAfter = r.next_after || "";
      prev.disabled = cursors.length <= 1;
      next.disabled = !nextAfter;
      const cols = [
        ["title", (d) => el("span", { class: "doc-title" }, d.title || "(untitled)")],
        ["id", (d) => el("code", null, d.id)],
        ["collection", (d) => d.collection],
        ["type", (d) => d.media_type],
        ["size", (d) => num(d.size)],
        ["chunks", (d) => num(d.chunks)],
        ["updated", (d) => when(d.updated_at)],
      ];
      if (perms["documents.write"] === true) cols.push(["", (d) => deleteButton(d, load)]);
      clear(body, r.data.length ? table(cols, r.data, { class: "doc-table" }) : note("No documents."),
        el("p", { class: "muted" }, `page ${cursors.length}`));
    } catch (err) {
      clear(body, note(err.message, "error"));
    }
  }
  prev.addEventListener("click", () => { cursors.pop(); load(); });
  next.addEventListener("click", () => { cursors.push(nextAfter); load(); });
  const filter = el("form", { class: "row" }, el("label", null, "collection ", coll), el("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (e) => { e.preventDefault(); cursors.length = 1; load(); });
  return {
    node: el("div", { class: "panel" }, el("h3", null, "All documents"), filter, body, el("div", { class: "row" }, prev, next)),
    reload: () => { cursors.length = 1; return load(); },
  };
}

// deleteButton asks once more before deleting (a second click).
function deleteButton(d, reload) {
  const b = el("button", { type: "button", class: "danger" }, "Delete");
  let armed = false;
  b.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      b.textContent = "Confirm delete";
      setTimeout(() => { armed = false; b.textContent = "Delete"; }, 4000);
      return;
    }
    try {
      await busy(b, "Deleting…", call("DELETE", "/v1/documents/" + encodeURIComponent(d.id)));
      reload();
    } catch (err) {
      b.replaceWith(note(err.message, "error"));
    }
  });
  return b;
}

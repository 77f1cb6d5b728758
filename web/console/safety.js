// Safety: quarantined documents (release), the approval queue (approve,
// reject) and verification of the audit log.

import { call } from "./api.js";
import { el, clear, note, table, num, when, value, busy, truncate } from "./dom.js";

export default function safety(root, perms) {
  clear(root, el("h2", null, "Safety"));
  const sections = [
    ["guard.write", "Quarantine", quarantine],
    ["approvals.decide", "Approvals", approvals],
    ["audit.read", "Audit log", audit],
  ];
  for (const [perm, title, make] of sections) {
    const panel = el("div", { class: "panel" }, el("h3", null, title));
    if (perms[perm] === true) make(panel);
    else panel.append(note(`${title} needs ${perm}, which this key lacks.`));
    root.append(panel);
  }
}

function quarantine(panel) {
  const all = el("input", { type: "checkbox", id: "q-all" });
  const body = el("div", { id: "q-list" });
  const load = async () => {
    try {
      const r = await call("GET", "/v1/quarantine" + (all.checked ? "?all=true" : ""));
      const rows = r.data || [];
      clear(body, rows.length ? table([
        ["document", (q) => el("code", null, q.document)], ["reason", (q) => q.reason], ["score", (q) => num(q.score, 3)],
        ["excerpt", (q) => el("span", { class: "excerpt" }, truncate(q.excerpt || "", 300))],
        ["quarantined", (q) => when(q.created_at)],
        ["", (q) => q.released_at ? `released by ${q.released_by || "?"} ${when(q.released_at)}` : releaseButton(q, load)],
      ], rows, { class: "quarantine" }) : note("Nothing is quarantined."));
    } catch (err) {
      clear(body, note(err.message, "error"));
    }
  };
  all.addEventListener("change", load);
  panel.append(el("p", { class: "muted" }, "Documents the guardrails took out of retrieval because a chunk tried to instruct the model."),
    el("label", { class: "check" }, all, " include released"), body);
  load();
}

function releaseButton(q, reload) {
  const noteIn = el("input", { type: "text", placeholder: "note (optional)", "aria-label": "Release note" });
  const b = el("button", { type: "button" }, "Release");
  b.addEventListener("click", async () => {
    try {
      await busy(b, "Releasing…", call("POST", `/v1/quarantine/${encodeURIComponent(q.document)}/release`, { json: noteIn.value ? { note: noteIn.value } : {} }));
      reload();
    } catch (err) {
      b.replaceWith(note(err.message, "error"));
    }
  });
  return el("span", { class: "row" }, noteIn, b);
}

function approvals(panel) {
  const body = el("div", { id: "approvals-list" });
  const load = async () => {
    try {
      const r = await call("GET", "/v1/approvals");
      const rows = r.data || [];
      clear(body, rows.length ? table([
        ["request", (a) => el("div", null, el("code", null, a.id), el("div", { class: "muted" }, `${a.kind} · ${a.assistant} · by ${a.principal}`))],
        ["what", (a) => a.tool ? el("span", null, el("code", null, a.tool), " ", truncate(a.arguments || "", 200)) : truncate(a.question || "", 300)],
        ["reason", (a) => [a.reason, a.rule ? el("div", { class: "muted" }, "rule " + a.rule) : null]],
        ["asked", (a) => when(a.created_at)],
        ["status", (a) => a.status === "pending" ? decide(a, load) : `${a.status} by ${a.decided_by || "?"} ${when(a.decided_at)}`],
      ], rows, { class: "approvals" }) : note("No requests are waiting for approval."));
    } catch (err) {
      clear(body, note(err.message, "error"));
    }
  };
  panel.append(el("p", { class: "muted" }, "Requests and tool calls the policy held for a person's decision."), body);
  load();
}

function decide(a, reload) {
  const noteIn = el("input", { type: "text", placeholder: "note (optional)", "aria-label": "Decision note" });
  const act = (verb) => async (e) => {
    try {
      await busy(e.target, "…", call("POST", `/v1/approvals/${encodeURIComponent(a.id)}/${verb}`, { json: noteIn.value ? { note: noteIn.value } : {} }));
      reload();
    } catch (err) {
      e.target.replaceWith(note(err.message, "error"));
    }
  };
  return el("span", { class: "row" }, noteIn,
    el("button", { type: "button", on: { click: act("approve") } }, "Approve"),
    el("button", { type: "button", class: "danger", on: { click: act("reject") } }, "Reject"));
}

function audit(panel) {
  const go = el("button", { type: "button", id: "audit-verify" }, "Verify the audit log");
  const out = el("div", { id: "audit-result" });
  go.addEventListener("click", () => busy(go, "Verifying…", (async () => {
    try {
      const r = await call("POST", "/v1/audit/verify");
      clear(out, el("p", { class: r.ok ? "ok" : "error" },
        r.ok ? `The chain is intact: ${num(r.records)} records, ${num(r.checkpoints)} signed checkpoints.` : `The chain is broken: ${r.problem ? JSON.stringify(r.problem) : "see below"}`),
      value(r));
    } catch (err) {
      clear(out, note(err.message, "error"));
    }
  })()));
  panel.append(el("p", { class: "muted" }, "Checks every record's hash chain and the signed checkpoints."), go, out);
}

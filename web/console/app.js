// The console's entry point: the key form, the permission probes and the
// view switcher. Each view is a module exporting a function
// (root, perms, ctx) → void that fills its section.

import { key, status, call } from "./api.js";
import { el, clear } from "./dom.js";
import playground from "./playground.js";
import documents from "./documents.js";
import usage from "./usage.js";
import evaluation from "./evaluation.js";
import safety from "./safety.js";
import settings from "./settings.js";

// A probe per permission the views use: a read, or a write the server
// refuses as invalid (400) before doing anything when it is authorised.
const probes = {
  chat: ["GET", "/v1/models"],
  search: ["POST", "/v1/search", { json: { console_probe: true } }],
  "documents.read": ["GET", "/v1/documents?limit=1"],
  "documents.write": ["POST", "/v1/documents", { body: "--x--\r\n", headers: { "Content-Type": "multipart/form-data; boundary=x" } }],
  "usage.read": ["GET", "/v1/budgets"],
  "eval.read": ["GET", "/v1/evals/runs?limit=1"],
  "eval.run": ["POST", "/v1/evals/runs", { json: { console_probe: true } }],
  "redteam.run": ["POST", "/v1/redteam/runs", { json: { console_probe: true } }],
  "guard.write": ["GET", "/v1/quarantine"],
  "approvals.decide": ["GET", "/v1/approvals?limit=1"],
  "audit.read": ["GET", "/v1/audit?since=2999-01-01"],
  "settings.read": ["GET", "/v1/settings"],
};

// The views, in menu order, with the permissions any of which shows them.
const views = [
  { id: "playground", title: "Playground", any: ["chat"], render: playground },
  { id: "documents", title: "Documents", any: ["documents.read", "documents.write", "search"], render: documents },
  { id: "usage", title: "Usage & budgets", any: ["usage.read"], render: usage },
  { id: "evaluation", title: "Evaluation", any: ["eval.read", "eval.run", "redteam.run"], render: evaluation },
  { id: "safety", title: "Safety", any: ["guard.write", "approvals.decide", "audit.read"], render: safety },
  { id: "settings", title: "Settings", any: ["settings.read"], render: settings },
];

const $ = (id) => document.getElementById(id);
let perms = null; // permission → true | false | "unavailable"
let shown = [];
const rendered = new Set();

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.className = "status" + (kind ? " " + kind : "");
}

// probe asks every probe at once and returns what the key may do. A 401
// means the key is wrong; 503 means the server has that part switched off.
async function probe() {
  const entries = await Promise.all(Object.entries(probes).map(async ([perm, [method, path, opts]]) => [perm, await status(method, path, opts)]));
  if (entries.some(([, s]) => s === 401)) return null;
  const out = {};
  for (const [perm, s] of entries) out[perm] = s === 403 ? false : s === 503 ? "unavailable" : s !== 0;
  return out;
}

async function connect() {
  setStatus("Checking what this key may do…");
  perms = await probe();
  if (!perms) {
    key.forget();
    showKeyForm(true);
    setStatus("The server refused this key (401): check it and try again.", "error");
    return;
  }
  showKeyForm(false);
  shown = views.filter((v) => v.any.some((p) => perms[p] === true));
  const missing = views.filter((v) => !shown.includes(v));
  const hidden = $("hidden-views");
  hidden.hidden = missing.length === 0;
  hidden.textContent = missing.length
    ? "Not available to this key: " + missing.map((v) => `${v.title} (${v.any.some((p) => perms[p] === "unavailable") ? "not configured on this server" : "needs " + v.any.join(" or ")})`).join("; ") + "."
    : "";
  const nav = clear($("nav"));
  const container = clear($("views"));
  rendered.clear();
  for (const v of shown) {
    nav.append(el("a", { href: "#" + v.id, id: "nav-" + v.id }, v.title));
    container.append(el("section", { id: "view-" + v.id, class: "view", hidden: true, "aria-labelledby": "nav-" + v.id }));
  }
  $("welcome").hidden = true;
  setStatus(shown.length ? "" : "This key may use none of the console's views.", shown.length ? "" : "error");
  route();
}

// route shows the view the URL's fragment names (the first one when none).
function route() {
  if (!perms || shown.length === 0) return;
  const id = location.hash.slice(1);
  const v = shown.find((x) => x.id === id) || shown[0];
  for (const x of shown) {
    $("view-" + x.id).hidden = x !== v;
    $("nav-" + x.id).classList.toggle("active", x === v);
  }
  if (!rendered.has(v.id)) {
    rendered.add(v.id);
    const root = $("view-" + v.id);
    Promise.resolve(v.render(root, perms, { call })).catch((err) => root.append(el("p", { class: "note error" }, String(err.message || err))));
  }
}

function showKeyForm(visible) {
  $("key-input").hidden = !visible;
  $("key-connect").hidden = !visible;
  document.querySelector("label[for=key-input]").hidden = !visible;
  $("key-forget").hidden = visible;
}

function start() {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const k = $("key-input").value.trim();
    $("key-input").value = "";
    if (k) key.set(k); else key.forget(); // no key: a server started with --no-auth
    connect();
  });
  $("key-forget").addEventListener("click", () => {
    key.forget();
    perms = null;
    clear($("nav"));
    clear($("views"));
    $("hidden-views").hidden = true;
    $("welcome").hidden = false;
    showKeyForm(true);
    setStatus("Key forgotten.");
  });
  window.addEventListener("hashchange", route);
  if (key.get() !== null) connect();
  else showKeyForm(true);
}

start();

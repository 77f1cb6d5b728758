// Evaluation: the run history, one run's metrics and gate verdict,
// running a suite, and a red-team run with its per-category report.

import { call } from "./api.js";
import { el, clear, note, table, num, when, meter, pct, value, busy } from "./dom.js";

export default function evaluation(root, perms) {
  const detail = el("div", { id: "eval-run", class: "panel", hidden: true });
  clear(root, el("h2", null, "Evaluation"));
  if (perms["eval.run"] === true) root.append(runPanel(detail, () => history.reload()));
  if (perms["redteam.run"] === true) root.append(redteamPanel());
  const history = historyPanel(detail);
  if (perms["eval.read"] === true) {
    root.append(history.node, detail);
    history.reload();
  } else {
    root.append(note("Reading evaluation results needs eval.read, which this key lacks."), detail);
  }
}

function historyPanel(detail) {
  const suite = el("input", { type: "text", id: "eval-suite-filter", placeholder: "every suite", "aria-label": "Suite" });
  const body = el("div", { id: "eval-runs" });
  const load = async () => {
    const qs = new URLSearchParams({ limit: "50" });
    if (suite.value.trim()) qs.set("suite", suite.value.trim());
    try {
      const r = await call("GET", "/v1/evals/runs?" + qs);
      const rows = r.data || [];
      clear(body, rows.length ? table([
        ["run", (x) => el("a", { href: "#", class: "run-link", on: { click: (e) => { e.preventDefault(); openRun(detail, x.id); } } }, x.id)],
        ["suite", (x) => x.suite], ["dataset", (x) => x.dataset], ["created", (x) => when(x.created_at)],
        ["questions", (x) => num(x.questions)], ["verdict", (x) => verdict(x.passed, x.failed_gates)],
        ["metrics", (x) => metricSummary(x.metrics)],
      ], rows, { class: "runs" }) : note("No evaluation runs yet (sextant eval run, or run a suite above)."));
    } catch (err) {
      clear(body, note(err.message, "error"));
    }
  };
  const form = el("form", { class: "row" }, el("label", null, "suite ", suite), el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  return { node: el("div", { class: "panel" }, el("h3", null, "Runs"), form, body), reload: load };
}

function verdict(passed, failed) {
  return el("span", { class: "badge " + (passed ? "pass" : "fail") }, passed ? "passed" : `failed (${num(failed)} gate${failed === 1 ? "" : "s"})`);
}

// metricSummary shows the first variant's metrics compactly.
function metricSummary(m) {
  const first = m && Object.entries(m)[0];
  if (!first) return "—";
  const [name, vals] = first;
  return el("span", { class: "muted" }, (Object.keys(m).length > 1 ? name + ": " : "") +
    Object.entries(vals || {}).slice(0, 4).map(([k, v]) => `${k} ${typeof v === "number" ? num(v, 3) : v}`).join(", "));
}

async function openRun(detail, id) {
  detail.hidden = false;
  clear(detail, el("p", { class: "muted" }, "Loading run " + id + "…"));
  try {
    showRun(detail, await call("GET", "/v1/evals/runs/" + encodeURIComponent(id)));
  } catch (err) {
    clear(detail, note(err.message, "error"));
  }
}

// showRun renders an eval.run object: verdict, each variant's metrics,
// the gates and the baseline.
function showRun(detail, run) {
  const rep = run.report || {};
  const variants = rep.variants || [];
  const names = [...new Set(variants.flatMap((v) => Object.keys(v.metrics || {})))];
  detail.hidden = false;
  clear(detail,
    el("h3", null, `Run ${run.id} `, verdict(run.passed, run.failed_gates)),
    el("p", { class: "muted" }, `suite ${rep.suite || "—"}, dataset ${rep.dataset || "—"}, ${num(rep.questions)} questions`,
      rep.baseline && rep.baseline.id ? `, baseline ${rep.baseline.id}` : ", no baseline"),
    variants.length ? table([["metric", (m) => m], ...variants.map((v) => [v.name, (m) => fmtMetric(v.metrics && v.metrics[m])]),
      ...(rep.baseline && rep.baseline.metrics ? [["baseline", (m) => fmtMetric(baselineMetric(rep.baseline.metrics, m))]] : [])],
    names, { id: "eval-metrics" }) : note("This run has no variants."),
    el("h4", null, "Gates"),
    (rep.gates || []).length ? table([
      ["gate", (g) => g.gate], ["verdict", (g) => el("span", { class: "badge " + (g.failed ? "fail" : "pass") }, g.failed ? "failed" : "passed")],
      ["details", (g) => value(Object.fromEntries(Object.entries(g).filter(([k]) => k !== "gate" && k !== "failed")))],
    ], rep.gates, { id: "eval-gates" }) : note("No gates."));
}

const fmtMetric = (v) => (typeof v === "number" ? num(v, 4) : v === undefined ? "—" : String(v));

// baselineMetric reads a baseline's metric, whether the baseline's metrics
// are flat or per variant.
function baselineMetric(m, name) {
  if (name in m) return m[name];
  const first = Object.values(m)[0];
  return first && typeof first === "object" ? first[name] : undefined;
}

function runPanel(detail, done) {
  const suite = el("input", { type: "text", id: "eval-suite", placeholder: "suite name", required: true });
  const baseline = el("select", { id: "eval-baseline", "aria-label": "Baseline" },
    el("option", { value: "last" }, "baseline: last run"), el("option", { value: "none" }, "no baseline"));
  const go = el("button", { type: "submit" }, "Run suite");
  const out = el("div");
  const form = el("form", { class: "row" }, el("label", null, "suite ", suite), baseline, go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(go, "Running…", (async () => {
      try {
        const run = await call("POST", "/v1/evals/runs", { json: { suite: suite.value.trim(), baseline: baseline.value } });
        clear(out);
        showRun(detail, run);
        done();
      } catch (err) {
        clear(out, note(err.message, "error"));
      }
    })());
  });
  return el("div", { class: "panel" }, el("h3", null, "Run a suite"),
    el("p", { class: "muted" }, "A suite from DATA/evals/ or eval.suites, run against this server's pipeline; one run at a time."), form, out);
}

function redteamPanel() {
  const assistant = el("input", { type: "text", id: "rt-assistant", placeholder: "default assistant", "aria-label": "Assistant" });
  const go = el("button", { type: "submit", id: "rt-run" }, "Run red team");
  const out = el("div", { id: "rt-report" });
  const form = el("form", { class: "row" }, el("label", null, "assistant ", assistant), go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = assistant.value.trim() ? { assistant: assistant.value.trim() } : {};
    busy(go, "Attacking… (120 prompts)", (async () => {
      try {
        const r = await call("POST", "/v1/redteam/runs", { json: body });
        const cats = Object.entries(r.categories || {});
        const benign = "benign (false positives)";
        if (r.benign) cats.push([benign, r.benign]);
        clear(out,
          el("p", null, `Assistant ${r.assistant}: block rate ${pct(r.block_rate)}, false-positive rate ${pct(r.false_positive_rate)}.`),
          table([
            ["category", ([c]) => c], ["prompts", ([, s]) => num(s.prompts)], ["stopped", ([, s]) => num(s.stopped)],
            ["block rate", ([c, s]) => meter(s.block_rate, undefined, c !== benign)], ["refused", ([, s]) => num(s.refused)], ["flagged", ([, s]) => num(s.flagged)],
          ], cats, { id: "rt-categories" }));
      } catch (err) {
        clear(out, note(err.message, "error"));
      }
    })());
  });
  return el("div", { class: "panel" }, el("h3", null, "Red team"),
    el("p", { class: "muted" }, "Runs the embedded attack suite against an assistant through this server's guardrails and policy. The prompts are real requests: they are audited, and any held for approval wait in the approval queue."),
    form, out);
}

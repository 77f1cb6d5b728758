// Usage & budgets: GET /v1/usage grouped by day, model, assistant, key,
// project, tenant or user (table, bar chart, totals and forecast), and
// GET /v1/budgets with utilisation bars.

import { call } from "./api.js";
import { el, clear, note, table, num, usd, pct, when, meter, barChart } from "./dom.js";

const GROUPS = ["day", "model", "assistant", "key", "project", "tenant", "user"];

export default function usage(root) {
  const by = el("select", { id: "usage-by", "aria-label": "Group by" }, GROUPS.map((g) => el("option", { value: g }, g)));
  const since = el("input", { type: "text", id: "usage-since", placeholder: "this month", size: "12", "aria-label": "Since" });
  const until = el("input", { type: "text", id: "usage-until", placeholder: "now", size: "12", "aria-label": "Until" });
  const metric = el("select", { id: "usage-metric", "aria-label": "Chart" },
    el("option", { value: "cost" }, "cost"), el("option", { value: "tokens" }, "tokens"), el("option", { value: "requests" }, "requests"));
  const form = el("form", { class: "row" }, el("label", null, "by ", by), el("label", null, "since ", since),
    el("label", null, "until ", until), el("label", null, "chart ", metric), el("button", { type: "submit", id: "usage-refresh" }, "Refresh"));
  const out = el("div", { id: "usage-out" });
  const budgets = el("div", { id: "budgets-out" });
  clear(root, el("h2", null, "Usage & budgets"),
    el("p", { class: "muted" }, "Since and until take a date (2026-11-01), an RFC 3339 time or an age (7d)."),
    form, out, el("h3", null, "Budgets"), budgets);
  let last = null;
  const draw = () => last && render(out, last, metric.value);
  const load = async () => {
    const qs = new URLSearchParams({ by: by.value });
    if (since.value.trim()) qs.set("since", since.value.trim());
    if (until.value.trim()) qs.set("until", until.value.trim());
    try {
      last = await call("GET", "/v1/usage?" + qs);
      if (!metric.dataset.touched) metric.value = last.total && last.total.cost_usd > 0 ? "cost" : "tokens";
      draw();
    } catch (err) {
      clear(out, note(err.forbidden ? "Usage needs usage.read, which this key lacks." : err.message, err.forbidden ? "" : "error"));
    }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  by.addEventListener("change", load);
  metric.addEventListener("change", () => { metric.dataset.touched = "1"; draw(); });
  load();
  loadBudgets(budgets);
}

const tokens = (l) => (l.input_tokens || 0) + (l.output_tokens || 0);

function render(out, r, metric) {
  const t = r.total || {};
  const f = r.forecast || {};
  const cards = [
    ["requests", num(t.requests)], ["succeeded", num(t.succeeded)], ["cost", usd(t.cost_usd)],
    ["tokens per task", num(t.tokens_per_task)], ["cost per task", usd(t.cost_per_task_usd)],
    ["cost per successful task", usd(t.cost_per_success_usd)], ["cache hits", `${num(t.cache_hits)} (${pct(t.cache_hit_ratio)})`],
    ["cache savings", usd(t.saved_usd)], [`forecast ${f.month || ""}`, usd(f.projected_usd)], ["month to date", usd(f.month_to_date_usd)],
  ];
  const lines = r.lines || [];
  const pick = { cost: (l) => l.cost_usd || 0, tokens, requests: (l) => l.requests || 0 }[metric];
  const fmt = metric === "cost" ? usd : (v) => num(v);
  clear(out,
    el("p", { class: "muted" }, `${when(r.since)} – ${r.until ? when(r.until) : "now"}, by ${r.by}`),
    el("div", { class: "cards", id: "usage-totals" }, cards.map(([k, v]) => el("div", { class: "card" }, el("div", { class: "card-value" }, v), el("div", { class: "card-label" }, k)))),
    lines.length ? barChart(lines.map((l) => [l.group || "(none)", pick(l)]), fmt, `${metric} by ${r.by}`) : note("No usage in this period."),
    lines.length ? table([
      [r.by, (l) => l.group || "(none)"], ["requests", (l) => num(l.requests)], ["succeeded", (l) => num(l.succeeded)],
      ["cache hits", (l) => num(l.cache_hits)], ["input tokens", (l) => num(l.input_tokens)], ["output tokens", (l) => num(l.output_tokens)],
      ["cost", (l) => usd(l.cost_usd)], ["saved", (l) => usd(l.saved_usd)], ["tokens/task", (l) => num(l.tokens_per_task)],
      ["cost/success", (l) => usd(l.cost_per_success_usd)], ["unpriced", (l) => num(l.unpriced)],
    ], lines, { id: "usage-table" }) : null);
}

async function loadBudgets(out) {
  try {
    const r = await call("GET", "/v1/budgets");
    const rows = r.data || [];
    clear(out, rows.length ? table([
      ["budget", (b) => b.budget], ["period", (b) => b.period], ["limit", (b) => usd(b.limit_usd)],
      ["spent", (b) => usd(b.spent_usd)], ["reserved", (b) => usd(b.reserved_usd)],
      ["utilisation", (b) => meter(b.utilization)], ["window ends", (b) => when(b.window_end)], ["source", (b) => b.source],
    ], rows, { id: "budget-table" }) : note("No budgets are set (sextant budgets set, or PUT /v1/budgets)."));
  } catch (err) {
    clear(out, note(err.message, "error"));
  }
}

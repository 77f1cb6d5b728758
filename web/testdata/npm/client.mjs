// Drives Sextant's OpenAI-compatible API with the official openai npm
// package, unchanged, and prints what it saw as one JSON object for
// web/node_test.go to check.
//
//   node client.mjs BASE_URL QUESTION GATEWAY_MODEL
import OpenAI from "openai";

const [baseURL, question, gatewayModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0, timeout: 20000 });
const out = {};

function apiError(e) {
  return { status: e.status, type: e.type ?? e.error?.type, code: e.code, param: e.param, message: e.message, name: e.constructor.name };
}

async function stream(params) {
  const s = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  const r = { content: "", roles: [], chunks: 0 };
  for await (const chunk of s) {
    r.chunks++;
    for (const c of chunk.choices) {
      if (c.delta.role) r.roles.push(c.delta.role);
      if (c.delta.content) r.content += c.delta.content;
      if (c.finish_reason) r.finish_reason = c.finish_reason;
    }
    if (chunk.sources) r.sources = chunk.sources;
    if (chunk.usage) r.usage = chunk.usage;
    r.id = chunk.id;
  }
  return r;
}

const ask = { model: "sextant", messages: [{ role: "user", content: question }] };
const resp = await client.chat.completions.create(ask);
out.assistant = { content: resp.choices[0].message.content, finish_reason: resp.choices[0].finish_reason, sources: resp.sources, usage: resp.usage, object: resp.object };
const { data, response } = await client.chat.completions.create(ask).withResponse();
out.request_id = response.headers.get("x-request-id");
out.assistant_stream = await stream(ask);

const gw = { model: gatewayModel, messages: [{ role: "user", content: "hello gateway" }] };
const g = await client.chat.completions.create(gw);
out.gateway = { content: g.choices[0].message.content, model: g.model, usage: g.usage };
out.gateway_stream = await stream(gw);

try {
  await client.chat.completions.create({ model: "no-such-model-xyz", messages: [{ role: "user", content: "hi" }] });
  out.unknown_model = { error: null };
} catch (e) {
  out.unknown_model = apiError(e);
}
try {
  await client.chat.completions.create({ model: "sextant", messages: [{ role: "user", content: "hi" }, { role: "user", content: "x", bogus: 1 }] });
  out.bad_field = { error: null };
} catch (e) {
  out.bad_field = apiError(e);
}
const models = [];
for await (const m of client.models.list()) models.push(m.id);
out.models = models;

console.log(JSON.stringify(out));

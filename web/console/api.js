// The API client: every call goes to this server's own origin with the
// key the user entered, as Authorization: Bearer.

const KEY = "sextant.console.key";

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  forget: () => sessionStorage.removeItem(KEY),
};

// APIError is a non-2xx answer, with the server's message.
export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "";
    this.param = e.param || "";
    this.details = e.details;
  }
  get forbidden() { return this.status === 403; }
  get unavailable() { return this.status === 503; }
}

function headers(extra) {
  const h = new Headers(extra || {});
  const k = key.get();
  if (k) h.set("Authorization", "Bearer " + k);
  return h;
}

async function send(method, path, { json, body, headers: hs, signal } = {}) {
  const init = { method, headers: headers(hs), signal, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers.set("Content-Type", "application/json");
  } else if (body !== undefined) {
    init.body = body;
  }
  return fetch(path, init);
}

async function errorOf(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  return new APIError(res.status, body);
}

// call sends a request and returns the parsed JSON body (null for an
// empty one), or throws APIError.
export async function call(method, path, opts) {
  const res = await send(method, path, opts);
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// status sends a request and returns only its status: how the console
// learns what a key may do. A request the server would refuse as invalid
// (400) is authorised; 403 is not. Nothing is changed either way, since
// authorisation is checked before the request is read.
export async function status(method, path, opts) {
  try {
    const res = await send(method, path, opts);
    res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

// stream posts json and calls on(event, data) for each Server-Sent Event
// of the answer; it resolves when the stream ends.
export async function stream(path, json, on, signal) {
  const res = await send("POST", path, { json, signal, headers: { Accept: "text/event-stream" } });
  if (!res.ok) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(5).replace(/^ /, "");
      }
      if (data) on(event, JSON.parse(data));
    }
  }
}

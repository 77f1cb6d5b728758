// Settings: what the server runs with (GET /v1/settings), read-only. The
// server never puts a secret in it.

import { call } from "./api.js";
import { el, clear, note, value } from "./dom.js";

export default async function settings(root) {
  clear(root, el("h2", null, "Settings"),
    el("p", { class: "muted" }, "Read-only: change them in sextant.yaml, with the CLI, or through the API. Secrets are never shown, only where they are read from."));
  try {
    const s = await call("GET", "/v1/settings");
    const out = el("div", { id: "settings-out" });
    for (const [k, v] of Object.entries(s)) {
      if (k === "object") continue;
      out.append(el("details", { open: typeof v !== "object" || k === "assistants" || k === "default_assistant" },
        el("summary", null, k), value(v)));
    }
    root.append(out);
  } catch (err) {
    root.append(note(err.message, "error"));
  }
}

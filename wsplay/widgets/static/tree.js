// A collapsible tree of a decoded value (JSON, MessagePack, CBOR, a user decoder's output).
// Python marks what JSON cannot say: {"$bytes": "0a ff"}, {"$repr": "..."}, {"$more": "…"}.

import { h } from "./util.js";

const OPEN_DEPTH = 2; // levels open at first

function special(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && ["$bytes", "$repr", "$more"].includes(keys[0])) return keys[0];
  }
  return null;
}

function leaf(value) {
  const kind = special(value);
  if (kind === "$bytes") return h("span", { class: "wsp-t-bytes" }, `bytes ${value.$bytes}`);
  if (kind === "$repr") return h("span", { class: "wsp-t-repr" }, value.$repr);
  if (kind === "$more") return h("span", { class: "wsp-muted" }, "… (more not shown)");
  if (value === null) return h("span", { class: "wsp-t-null" }, "null");
  if (typeof value === "string") return h("span", { class: "wsp-t-str" }, JSON.stringify(value));
  if (typeof value === "number") return h("span", { class: "wsp-t-num" }, String(value));
  if (typeof value === "boolean") return h("span", { class: "wsp-t-bool" }, String(value));
  return null;
}

function node(key, value, depth) {
  const label = key === null ? null : h("span", { class: "wsp-t-key" }, `${key}: `);
  const simple = leaf(value);
  if (simple) return h("div", { class: "wsp-t-leaf" }, label, simple);
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = isArray ? `[${entries.length}]` : `{${entries.length}}`;
  const details = h("details", { class: "wsp-t-node" }, h("summary", null, label, h("span", { class: "wsp-muted" }, summary)));
  details.open = depth < OPEN_DEPTH;
  for (const [k, v] of entries) details.append(node(k, v, depth + 1));
  return details;
}

export function tree(value) {
  return h("div", { class: "wsp-tree" }, node(null, value, 0));
}

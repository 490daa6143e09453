// The frame header drawn as RFC 6455 section 5.2 draws it: 32 bits a row, every field's bits
// filled in, and the frame's bytes as a hex dump. Hovering a field (in the diagram or the dump)
// highlights its bits and its bytes together.

import { h, hex2, typeName } from "./util.js";

// What RSV1 means on a frame of a permessage-deflate message (RFC 7692 6): set on the first frame
// of a compressed message, clear on its continuation frames and on control frames.
function rsv1Text(bit, compressed) {
  if (!compressed) return String(bit);
  return bit ? "1: compressed message (permessage-deflate, RFC 7692)" : "0: continues a compressed message (RSV1 is on its first frame only)";
}

// The header's fields, in wire order: [{id, name, start bit, bits, value text}]. `compressed`: the
// frame belongs to a permessage-deflate compressed message (what RSV1 then means).
export function headerFields(header, compressed = false) {
  const b = header;
  const fields = [];
  let at = 0;
  const add = (id, name, bits, value) => {
    fields.push({ id, name, start: at, bits, value });
    at += bits;
  };
  const opcode = b[0] & 0x0f;
  const len7 = b[1] & 0x7f;
  const masked = (b[1] & 0x80) !== 0;
  add("fin", "FIN", 1, (b[0] >> 7) & 1 ? "1: final fragment" : "0: more fragments follow");
  add("rsv1", "RSV1", 1, rsv1Text((b[0] >> 6) & 1, compressed));
  add("rsv2", "RSV2", 1, String((b[0] >> 5) & 1));
  add("rsv3", "RSV3", 1, String((b[0] >> 4) & 1));
  add("opcode", "opcode", 4, `0x${opcode.toString(16)} ${typeName(opcode)}`);
  add("mask", "MASK", 1, masked ? "1: masked" : "0: not masked");
  const form = len7 === 126 ? "16-bit length follows" : len7 === 127 ? "64-bit length follows" : "the length itself";
  add("len", "payload len", 7, `${len7}: ${form}`);
  if (len7 === 126 && b.length >= 4) add("ext16", "extended payload length (16 bits)", 16, String((b[2] << 8) | b[3]));
  if (len7 === 127 && b.length >= 10) {
    let n = 0n;
    for (let i = 2; i < 10; i++) n = (n << 8n) | BigInt(b[i]);
    add("ext64", "extended payload length (64 bits)", 64, n.toString());
  }
  if (masked) {
    const k = at / 8;
    add("key", "masking key", 32, Array.from(b.subarray(k, k + 4), hex2).join(" "));
  }
  return fields;
}

function bitOf(bytes, i) {
  return (bytes[i >> 3] >> (7 - (i & 7))) & 1;
}

function fieldAt(fields, bit) {
  return fields.find((f) => bit >= f.start && bit < f.start + f.bits);
}

// Highlight every element of one field inside `root` while the pointer is on any of them.
function linkHover(root, el, id) {
  el.addEventListener("mouseenter", () => root.querySelectorAll(`.f-${id}`).forEach((x) => x.classList.add("wsp-hl")));
  el.addEventListener("mouseleave", () => root.querySelectorAll(`.f-${id}`).forEach((x) => x.classList.remove("wsp-hl")));
}

// `deflated`: for a compressed frame, {inflated: length} (the payload row then says both sizes).
export function bitDiagram(root, header, payloadLength, deflated = null) {
  const fields = headerFields(header, !!deflated);
  const total = header.length * 8;
  const grid = h("div", { class: "wsp-bits", role: "figure", "aria-label": "frame header, RFC 6455 section 5.2" });
  for (let i = 0; i < 32; i++) grid.append(h("div", { class: "wsp-bitno" }, i % 10 === 0 ? String(i / 10) : ""));
  for (let i = 0; i < 32; i++) grid.append(h("div", { class: "wsp-bitno" }, String(i % 10)));
  for (let row = 0; row * 32 < total; row++) {
    const lo = row * 32;
    const hi = Math.min(lo + 32, total);
    for (const f of fields) {
      const a = Math.max(f.start, lo);
      const b = Math.min(f.start + f.bits, hi);
      if (a >= b) continue;
      const first = a === f.start;
      const label = h(
        "div",
        { class: `wsp-field f-${f.id}`, dataset: { field: f.id }, style: { gridColumn: `${a - lo + 1} / span ${b - a}` }, title: `${f.name}: ${f.value}` },
        first ? (b - a >= 4 ? `${f.name} = ${f.value}` : f.name) : `${f.name} (cont.)`,
      );
      linkHover(root, label, f.id);
      grid.append(label);
    }
    for (let i = lo; i < lo + 32; i++) {
      if (i >= hi) {
        grid.append(h("div", { class: "wsp-bit wsp-empty" }));
        continue;
      }
      const f = fieldAt(fields, i);
      const bit = bitOf(header, i);
      const lit = bit && f.id.startsWith("rsv"); // a reserved bit in use: an extension (RSV1: deflate)
      const cell = h("div", { class: `wsp-bit f-${f.id}${lit ? " wsp-lit" : ""}`, dataset: { field: f.id }, title: `${f.name}: ${f.value}` }, String(bit));
      linkHover(root, cell, f.id);
      grid.append(cell);
    }
  }
  const payload = h(
    "div",
    { class: "wsp-field f-payload wsp-payload-row", style: { gridColumn: "1 / span 32" }, dataset: { field: "payload" } },
    `payload data: ${payloadLength} byte${payloadLength === 1 ? "" : "s"}`,
    deflated ? ` of deflate data, ${deflated.inflated} inflated` : "",
  );
  linkHover(root, payload, "payload");
  grid.append(payload);
  return { grid, fields };
}

// The frame as it went over the wire: header bytes, then the payload (masked, for a masked frame).
export function wireDump(root, header, wirePayload, fields, limit = 64) {
  const bytes = [...header, ...wirePayload.subarray(0, limit)];
  const classesOf = (i) => {
    if (i >= header.length) return ["payload"];
    return fields.filter((f) => f.start < (i + 1) * 8 && f.start + f.bits > i * 8).map((f) => f.id);
  };
  const dump = h("div", { class: "wsp-dump" });
  for (let off = 0; off < bytes.length; off += 16) {
    const line = h("div", { class: "wsp-dump-line" }, h("span", { class: "wsp-muted" }, off.toString(16).padStart(4, "0") + "  "));
    for (let i = off; i < Math.min(off + 16, bytes.length); i++) {
      const ids = classesOf(i);
      const byte = h("span", { class: `wsp-byte ${ids.map((id) => `f-${id}`).join(" ")}`, title: ids.join(", ") }, hex2(bytes[i]));
      for (const id of ids) linkHover(root, byte, id);
      line.append(byte, " ");
    }
    dump.append(line);
  }
  const more = wirePayload.length - Math.min(wirePayload.length, limit);
  if (more > 0) dump.append(h("div", { class: "wsp-muted" }, `… ${more} more payload bytes (see the payload views)`));
  return dump;
}

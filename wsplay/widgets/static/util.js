// DOM helpers shared by every view. Every string a peer could control goes into the page as text
// (text nodes, textContent, attribute values); nothing here ever parses HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// h("div", {class: "x", onclick: f}, "text", child): an HTML element.
export function h(tag, props, ...children) {
  return append(apply(document.createElement(tag), props), children);
}

// s("line", {x1: 0, ...}): an SVG element, made with createElementNS.
export function s(tag, props, ...children) {
  return append(apply(document.createElementNS(SVG_NS, tag), props), children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const OPCODES = { 0: "CONTINUE", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG" };

export function typeName(opcode) {
  return OPCODES[opcode] || `RESERVED 0x${opcode.toString(16)}`;
}

export function isControl(opcode) {
  return opcode >= 8;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function fmtTime(t) {
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// A frame received is stamped when it was read and one sent when it was written, so a frame can
// come a few microseconds "before" the one logged ahead of it: the sign is shown, not hidden.
export function fmtDelta(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const sign = seconds < 0 ? "−" : "+";
  const s = Math.abs(seconds);
  if (s < 0.001) return `${sign}${Math.round(s * 1e6)} µs`;
  if (s < 1) return `${sign}${(s * 1000).toFixed(1)} ms`;
  if (s < 120) return `${sign}${s.toFixed(2)} s`;
  return `${sign}${Math.round(s / 60)} min`;
}

export function fmtBytes(n) {
  if (n < 10000) return `${n} B`;
  if (n < 10000000) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function toBytes(buffer) {
  if (!buffer) return new Uint8Array(0);
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function fromHex(text) {
  const out = new Uint8Array((text || "").length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}

export function hex2(b) {
  return b.toString(16).padStart(2, "0");
}

export function base64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function utf8(bytes) {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

// The classic dump: offset, `width` hex bytes, ASCII. Returns one text line per `width` bytes
// (16: the classic; 8: a narrow column, e.g. beside the inflated message).
export function hexLines(bytes, limit = 16384, width = 16) {
  const lines = [];
  const n = Math.min(bytes.length, limit);
  for (let off = 0; off < n; off += width) {
    const chunk = bytes.subarray(off, Math.min(off + width, n));
    const hx = Array.from(chunk, hex2).join(" ").padEnd(width * 3 - 1, " ");
    const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(width === 16 ? 8 : 4, "0")}  ${hx}  ${ascii}`);
  }
  return lines;
}

export function button(label, onclick, props = {}) {
  return h("button", { class: "wsp-button", type: "button", onclick, ...props }, label);
}

export function select(options, value, onchange, props = {}) {
  const el = h("select", { class: "wsp-select", ...props });
  setOptions(el, options, value);
  el.addEventListener("change", () => {
    const chosen = (el._options || options)[el.selectedIndex];
    onchange(chosen ? chosen[0] : null);
  });
  return el;
}

// options: [[value, label], ...]; value null stands for "all".
export function setOptions(el, options, value) {
  const key = JSON.stringify(options);
  if (el.dataset.options !== key) {
    clear(el);
    options.forEach(([v, label], i) => el.append(h("option", { value: String(i) }, label)));
    el.dataset.options = key;
  }
  const i = options.findIndex(([v]) => v === value);
  el.selectedIndex = i < 0 ? 0 : i;
  el._options = options;
}

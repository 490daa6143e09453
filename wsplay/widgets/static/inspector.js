// The inspector: one frame's header as a bit diagram with its bytes, and its payload in every view
// that fits: text, JSON (tree and pretty text), hex dump (masked and unmasked side by side for a
// masked frame), base64, and the Python decoders (MessagePack, CBOR, the user's own). A compressed
// frame (permessage-deflate) also shows its payload as it was on the wire (hex) beside the message
// it inflated to, with the ratio; the payload views show the inflated message.

import { bitDiagram, wireDump } from "./bits.js";
import { tree } from "./tree.js";
import { base64, button, clear, fmtBytes, fmtTime, fromHex, h, hexLines, toBytes, utf8 } from "./util.js";

const LOCAL_VIEWS = ["text", "json", "json text", "hex", "base64"];

export class Inspector {
  constructor({ side, onDecode }) {
    this.side = side;
    this.onDecode = onDecode;
    this.decoders = [];
    this.view = null;
    this.detail = null;
    this.payload = new Uint8Array(0);
    this.el = h("div", { class: "wsp-inspector" }, h("div", { class: "wsp-muted" }, "select a frame in the table to inspect it"));
  }

  setDecoders(names) {
    const next = names.filter((n) => n !== "json");
    if (JSON.stringify(next) === JSON.stringify(this.decoders)) return;
    this.decoders = next;
    if (this.detail) this.render();
  }

  // buffers: [the payload as kept (inflated, if compressed), the wire payload (compressed frames only)]
  show(detail, buffers) {
    this.detail = detail;
    this.payload = toBytes(buffers && buffers[0]);
    this.deflated = detail.compressed ? toBytes(buffers && buffers[1]) : null;
    if (!detail.missing && (!this.view || !this.views().includes(this.view))) this.view = detail.text ? "text" : "hex";
    this.render();
  }

  views() {
    return [...LOCAL_VIEWS, ...this.decoders];
  }

  render() {
    const d = this.detail;
    clear(this.el);
    if (d.missing) {
      this.el.append(h("div", { class: "wsp-muted" }, `frame #${d.index} is no longer in the recorder (it keeps the newest frames)`));
      return;
    }
    const dir = d.direction === "in" ? `received by the ${this.side}` : `sent by the ${this.side}`;
    const size = d.compressed
      ? `payload ${d.length} bytes on the wire (${d.length_form_name} length form), ${d.payload_length} inflated · header ${d.header.length / 2} bytes`
      : `payload ${d.length} bytes (${d.length_form_name} length form) · header ${d.header.length / 2} bytes`;
    this.el.append(
      h("div", { class: "wsp-title" }, `#${d.index} · connection ${d.connection} · ${dir} · ${fmtTime(d.time)} · ${d.type}`, d.compressed ? [" ", h("span", { class: "wsp-badge wsp-deflate" }, "deflate")] : null),
      h("div", { class: "wsp-muted" }, size),
    );
    if (d.close) {
      this.el.append(
        h("div", { class: "wsp-close-info" }, "close code ", h("b", null, d.close.code === null ? "none" : String(d.close.code)), ` (${d.close.name})`, d.close.reason ? " · reason " : "", d.close.reason ? h("q", { class: "wsp-reason" }, d.close.reason) : null),
      );
    }
    const length = d.payload_length ?? d.length;
    if (d.cut) this.el.append(h("div", { class: "wsp-warn" }, `only the first ${d.kept} of ${length} payload bytes were kept: the recorder's payload budget was full (host.record(payload_bytes=...))`));
    else if (d.sent < d.kept) this.el.append(h("div", { class: "wsp-warn" }, `the inspector shows the first ${fmtBytes(d.sent)} of ${fmtBytes(d.kept)}`));
    const header = fromHex(d.header);
    const key = d.mask_key ? fromHex(d.mask_key) : null;
    const carried = this.deflated || this.payload; // the payload as the frame carried it, unmasked
    const wire = key ? carried.map((b, i) => b ^ key[i % 4]) : carried;
    const { grid, fields } = bitDiagram(this.el, header, d.length, d.compressed ? { inflated: d.payload_length } : null);
    this.el.append(h("div", { class: "wsp-section" }, "header, bit by bit (RFC 6455 5.2): hover a field"), grid);
    this.el.append(h("div", { class: "wsp-section" }, "on the wire"), wireDump(this.el, header, wire, fields));
    if (d.compressed) this.el.append(this.deflateView());
    const tabs = h("div", { class: "wsp-tabs", role: "tablist" });
    for (const v of this.views()) {
      tabs.append(button(v, () => this.choose(v), { class: `wsp-tab${v === this.view ? " wsp-active" : ""}`, role: "tab", dataset: { view: v } }));
    }
    this.body = h("div", { class: "wsp-view", dataset: { view: this.view } });
    this.el.append(h("div", { class: "wsp-section" }, "payload"), tabs, this.body);
    this.renderView(wire, key);
  }

  // The compressed payload as it was on the wire (unmasked: the deflate data) beside the message it
  // inflated to, with the ratio. The inflated side is text for a text frame, a hex dump otherwise.
  deflateView() {
    const d = this.detail;
    const r = d.ratio;
    const saved = r === null || r === undefined ? "" : r <= 1 ? ` (${Math.round((1 - r) * 100)}% smaller)` : ` (${Math.round((r - 1) * 100)}% larger)`;
    const ratio = r === null || r === undefined ? "no ratio (an empty payload)" : `ratio ${r.toFixed(3)}${saved}`;
    const wireCut = d.wire_sent < d.length ? h("div", { class: "wsp-warn" }, `the first ${d.wire_sent} of ${d.length} bytes`) : null;
    const inflatedCut = d.sent < d.payload_length ? h("div", { class: "wsp-warn" }, `the first ${d.sent} of ${d.payload_length} bytes`) : null;
    const wire = h(
      "div",
      { class: "wsp-hexcol wsp-deflate-wire" },
      h("div", { class: "wsp-muted" }, `on the wire: ${d.length} bytes of deflate data${d.masked ? " (unmasked)" : ""}`),
      wireCut,
      h("pre", { class: "wsp-pre wsp-hex" }, hexLines(this.deflated, 16384, 8).join("\n")),
    );
    const inflated = h(
      "div",
      { class: "wsp-hexcol wsp-deflate-inflated" },
      h("div", { class: "wsp-muted" }, `inflated: ${d.payload_length} bytes${d.text ? " of text" : ""}`),
      inflatedCut,
      h("pre", { class: `wsp-pre${d.text ? "" : " wsp-hex"}` }, d.text ? utf8(this.payload) : hexLines(this.payload, 16384, 8).join("\n")),
    );
    return h(
      "div",
      { class: "wsp-deflate-view" },
      h("div", { class: "wsp-section" }, "permessage-deflate (RFC 7692): ", h("span", { class: "wsp-ratio" }, `${d.length} → ${d.payload_length} bytes, ${ratio}`)),
      h("div", { class: "wsp-side-by-side" }, wire, inflated),
    );
  }

  choose(view) {
    this.view = view;
    this.render();
  }

  renderView(wire, key) {
    const d = this.detail;
    const body = this.body;
    const bytes = this.payload;
    if (!bytes.length) {
      body.append(h("div", { class: "wsp-muted" }, "(empty payload)"));
      return;
    }
    const v = this.view;
    if (v === "text") {
      body.append(h("pre", { class: "wsp-pre" }, utf8(bytes)));
    } else if (v === "json" || v === "json text") {
      let value;
      try {
        value = JSON.parse(utf8(bytes));
      } catch (e) {
        body.append(h("div", { class: "wsp-warn" }, `not JSON${d.cut ? " (the payload was cut)" : ""}: ${e.message}`));
        return;
      }
      body.append(v === "json" ? tree(value) : h("pre", { class: "wsp-pre" }, JSON.stringify(value, null, 2)));
    } else if (v === "hex" && d.compressed) {
      // The bytes on the wire are in the permessage-deflate section above.
      body.append(h("div", { class: "wsp-hexcol" }, h("div", { class: "wsp-muted" }, "inflated (what the application got)"), h("pre", { class: "wsp-pre wsp-hex" }, hexLines(bytes).join("\n"))));
    } else if (v === "hex") {
      const unmasked = h("div", { class: "wsp-hexcol" }, h("div", { class: "wsp-muted" }, key ? "unmasked (what the application sent)" : "payload"), h("pre", { class: "wsp-pre wsp-hex" }, hexLines(bytes).join("\n")));
      if (key) {
        const masked = h("div", { class: "wsp-hexcol" }, h("div", { class: "wsp-muted" }, `masked on the wire (key ${d.mask_key.match(/../g).join(" ")})`), h("pre", { class: "wsp-pre wsp-hex wsp-masked" }, hexLines(wire).join("\n")));
        body.append(h("div", { class: "wsp-side-by-side" }, masked, unmasked));
      } else {
        body.append(unmasked);
      }
    } else if (v === "base64") {
      body.append(h("pre", { class: "wsp-pre wsp-wrap" }, base64(bytes)));
    } else {
      body.append(h("div", { class: "wsp-muted" }, `decoding with ${v} in the kernel…`));
      this.onDecode(d.index, v);
    }
  }

  decoded(content) {
    if (!this.detail || content.index !== this.detail.index || content.name !== this.view) return;
    clear(this.body);
    if (content.cut) this.body.append(h("div", { class: "wsp-warn" }, "decoded from a cut payload: the recorder kept only its first bytes"));
    if (!content.ok) this.body.append(h("div", { class: "wsp-warn" }, `${content.name} could not decode it: ${content.error}`));
    else if (content.text !== undefined) this.body.append(h("pre", { class: "wsp-pre" }, content.text));
    else this.body.append(tree(content.tree));
  }
}

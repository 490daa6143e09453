// The frame table: every row the panel was sent, drawn virtually (only the rows in view exist in
// the DOM), so 10,000 rows scroll as smoothly as 10. Rows come from Python already filtered:
// [index, time, connection, direction (0 in, 1 out), opcode, flags, wire bytes (header included),
//  payload bytes (inflated, for a compressed frame), delta to the connection's previous frame (s),
//  preview text]. A compressed frame (flag DEFLATE) gets a "deflate" badge.

import { clear, fmtDelta, fmtTime, h, typeName } from "./util.js";

export const ROW_HEIGHT = 20;
const FIN = 1, RSV1 = 2, RSV2 = 4, RSV3 = 8, MASK = 16, CUT = 32, DEFLATE = 64;
const COLUMNS = ["#", "time", "Δ conn", "conn", "dir", "type", "flags", "deflate", "wire", "payload", "preview"];
const TITLES = { deflate: "permessage-deflate: the frame's payload was compressed on the wire", wire: "bytes on the wire: header and payload as sent", payload: "payload bytes as the application sees them (inflated, for a compressed frame)" };

function flagText(flags) {
  return (flags & FIN ? "F" : "-") + (flags & RSV1 ? "1" : "-") + (flags & RSV2 ? "2" : "-") + (flags & RSV3 ? "3" : "-") + (flags & MASK ? "M" : "-");
}

function deflateBadge(flags, wire, length) {
  const first = flags & RSV1 ? "RSV1 set: the first frame of a compressed message" : "a later frame of a compressed message (RSV1 is set on the first frame only)";
  return h("span", { class: "wsp-badge wsp-deflate", title: `permessage-deflate, ${first}: ${wire} bytes on the wire (header included), ${length} bytes inflated` }, "deflate");
}

export class FrameTable {
  constructor({ side, onSelect, limit = 10000 }) {
    this.side = side; // "server" or "client": whose "in" and "out" these are
    this.onSelect = onSelect;
    this.limit = limit;
    this.rows = [];
    this.selected = null;
    this.follow = true;
    this.frozen = false;
    this.scroller = h("div", { class: "wsp-scroll", tabindex: "0" });
    this.spacer = h("div", { class: "wsp-spacer" });
    this.window = h("div", { class: "wsp-window" });
    this.spacer.append(this.window);
    this.scroller.append(this.spacer);
    const head = h("div", { class: "wsp-row wsp-head" }, COLUMNS.map((c) => h("div", { title: TITLES[c] }, c)));
    this.el = h("div", { class: "wsp-table" }, head, this.scroller);
    this._pending = false;
    this._setTop = 0; // where the table itself last scrolled to (following the tail)
    this.scroller.addEventListener("scroll", () => {
      // A scroll the table did not make is the reader's: away from the end stops following the
      // tail, back to the end starts it again (as in the browser's own DevTools).
      if (Math.abs(this.scroller.scrollTop - this._setTop) > 2) {
        const atEnd = this.scroller.scrollTop + this.scroller.clientHeight >= this.scroller.scrollHeight - ROW_HEIGHT;
        if (atEnd !== this.follow) this.setFollow(atEnd);
        this._setTop = -1;
      }
      this.schedule();
    });
    this.scroller.addEventListener("keydown", (e) => this.key(e));
  }

  setFollow(on) {
    this.follow = on;
    if (this.onFollow) this.onFollow(on);
    if (on) this.schedule();
  }

  reset(rows) {
    this.rows = rows.slice(-this.limit);
    this.schedule();
  }

  // New rows (newer than any held) and older ones sent later to fill in (merged by index).
  add(rows, back) {
    if (rows && rows.length) {
      const last = this.rows.length ? this.rows[this.rows.length - 1][0] : -1;
      for (const r of rows) if (r[0] > last) this.rows.push(r);
    }
    if (back && back.length) {
      const have = new Set(this.rows.map((r) => r[0]));
      this.rows = this.rows.concat(back.filter((r) => !have.has(r[0]))).sort((a, b) => a[0] - b[0]);
    }
    if (this.rows.length > this.limit) this.rows.splice(0, this.rows.length - this.limit);
    this.schedule();
  }

  schedule() {
    if (this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this.render();
    });
  }

  render() {
    const n = this.rows.length;
    this.spacer.style.height = `${n * ROW_HEIGHT}px`;
    if (this.follow && !this.frozen) {
      const bottom = Math.max(0, n * ROW_HEIGHT - this.scroller.clientHeight);
      if (Math.abs(this.scroller.scrollTop - bottom) > 1) this.scroller.scrollTop = bottom;
      this._setTop = this.scroller.scrollTop;
    }
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 300;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 5);
    const last = Math.min(n, Math.ceil((top + height) / ROW_HEIGHT) + 5);
    this.window.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    clear(this.window);
    for (let i = first; i < last; i++) this.window.append(this.rowElement(this.rows[i]));
  }

  rowElement(r) {
    const [index, time, conn, dir, opcode, flags, wire, length, delta, preview] = r;
    const type = typeName(opcode);
    const out = dir === 1;
    const arrow = out ? "▲ out" : "▼ in";
    const row = h(
      "div",
      {
        class: `wsp-row ${out ? "wsp-out" : "wsp-in"}${index === this.selected ? " wsp-selected" : ""}${opcode >= 8 ? " wsp-control" : ""}`,
        dataset: { index: String(index) },
        onclick: () => this.select(index),
      },
      h("div", { class: "wsp-num" }, String(index)),
      h("div", null, fmtTime(time)),
      h("div", { class: "wsp-num" }, fmtDelta(delta)),
      h("div", { class: "wsp-num" }, String(conn)),
      h("div", { class: "wsp-dir", title: out ? `sent by the ${this.side}` : `received by the ${this.side}` }, arrow),
      h("div", null, h("span", { class: `wsp-badge wsp-op-${type.split(" ")[0].toLowerCase()}` }, type)),
      h("div", { class: "wsp-flags", title: "FIN, RSV1, RSV2, RSV3, MASK" }, flagText(flags)),
      h("div", null, flags & DEFLATE ? deflateBadge(flags, wire, length) : null),
      h("div", { class: "wsp-num" }, String(wire)),
      h("div", { class: `wsp-num${flags & DEFLATE ? " wsp-inflated" : ""}` }, String(length)),
      h("div", { class: "wsp-preview" }, flags & CUT ? h("span", { class: "wsp-cut", title: "only the first 256 bytes were kept (payload budget full)" }, "✂ ") : null, preview),
    );
    return row;
  }

  select(index) {
    this.selected = index;
    this.render();
    this.onSelect(index);
  }

  key(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const at = this.rows.findIndex((r) => r[0] === this.selected);
    const next = this.rows[Math.max(0, Math.min(this.rows.length - 1, at + (e.key === "ArrowDown" ? 1 : -1)))];
    if (next) {
      e.preventDefault();
      this.setFollow(false);
      this.select(next[0]);
      const y = this.rows.indexOf(next) * ROW_HEIGHT;
      if (y < this.scroller.scrollTop || y > this.scroller.scrollTop + this.scroller.clientHeight - ROW_HEIGHT) this.scroller.scrollTop = y - 40;
    }
  }
}

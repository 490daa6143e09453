// Live sparklines: messages/s and bytes/s each way, and ping round-trip times. The samples are
// the recorder's totals, one per push; rates are the differences between consecutive samples.

import { fmtBytes, h, s } from "./util.js";

const KEEP = 120; // samples kept (about a minute at two a second)

export class Charts {
  constructor() {
    this.samples = [];
    this.rtts = [];
    this.el = h("div", { class: "wsp-charts" });
  }

  add(sample, rtts) {
    const last = this.samples[this.samples.length - 1];
    if (!last || sample[0] > last[0]) this.samples.push(sample);
    if (this.samples.length > KEEP) this.samples.shift();
    for (const r of rtts || []) this.rtts.push(r);
    if (this.rtts.length > KEEP) this.rtts.splice(0, this.rtts.length - KEEP);
  }

  rates(column) {
    const out = [];
    for (let i = 1; i < this.samples.length; i++) {
      const dt = this.samples[i][0] - this.samples[i - 1][0];
      out.push(dt > 0 ? Math.max(0, (this.samples[i][column] - this.samples[i - 1][column]) / dt) : 0);
    }
    return out;
  }

  render() {
    this.el.replaceChildren(
      chart("messages/s in", this.rates(1), (v) => v.toFixed(0), "wsp-in"),
      chart("messages/s out", this.rates(2), (v) => v.toFixed(0), "wsp-out"),
      chart("bytes/s in", this.rates(3), (v) => `${fmtBytes(Math.round(v))}/s`, "wsp-in"),
      chart("bytes/s out", this.rates(4), (v) => `${fmtBytes(Math.round(v))}/s`, "wsp-out"),
      chart("ping round trip", this.rtts.map((r) => r[1]), (v) => `${v.toFixed(1)} ms`, "wsp-rtt"),
    );
  }
}

function chart(title, values, fmt, cls) {
  const w = 160;
  const hgt = 34;
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - 2 - (v / max) * (hgt - 4)}`).join(" ");
  const now = values.length ? fmt(values[values.length - 1]) : "—";
  return h(
    "div",
    { class: "wsp-chart" },
    h("div", { class: "wsp-muted" }, title, " ", h("b", null, now)),
    s("svg", { class: `wsp-spark ${cls}`, viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt }, values.length > 1 ? s("polyline", { points: pts }) : null),
    h("div", { class: "wsp-muted wsp-small" }, values.length ? `max ${fmt(max)}` : "no data yet"),
  );
}

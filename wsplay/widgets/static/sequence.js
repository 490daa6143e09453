// A sequence diagram of one connection's recent frames: the client's and the server's lifelines,
// one arrow per frame. Data frames are solid, fragments (FIN clear, or continuation) dashed,
// control frames thin and coloured apart; a pause longer than a quarter second opens a gap with
// its length written in it.

import { s, typeName } from "./util.js";

const WIDTH = 560;
const LEFT = 90;
const RIGHT = WIDTH - 90;
const STEP = 20;
const GAP = 0.25; // seconds: longer pauses are drawn as gaps
let diagrams = 0;

function gapHeight(seconds) {
  return Math.min(60, 14 + 10 * Math.log2(seconds / GAP));
}

function fmtGap(seconds) {
  return seconds < 60 ? `${seconds.toFixed(seconds < 10 ? 2 : 1)} s` : `${Math.round(seconds / 60)} min`;
}

// rows: table rows of one connection, oldest first; side: "server" or "client" (whose panel).
export function sequenceDiagram(rows, side) {
  const id = `wsp-arrowhead-${++diagrams}`;
  const fromClient = (dir) => (side === "server" ? dir === 0 : dir === 1);
  let y = 40;
  const parts = [];
  let prev = null;
  for (const r of rows) {
    const [index, time, , dir, opcode, flags, , length, , preview] = r;
    if (prev !== null && time - prev > GAP) {
      const g = gapHeight(time - prev);
      parts.push(s("rect", { class: "wsp-seq-gap", x: 0, y: y - 6, width: WIDTH, height: g - 6 }));
      parts.push(s("text", { class: "wsp-seq-gaplabel", x: WIDTH / 2, y: y + g / 2 - 6, "text-anchor": "middle" }, `⋯ ${fmtGap(time - prev)} ⋯`));
      y += g;
    }
    prev = time;
    const client = fromClient(dir);
    const control = opcode >= 8;
    const fragment = !control && (opcode === 0 || !(flags & 1));
    const kind = control ? "wsp-ctl" : fragment ? "wsp-frag" : "wsp-data";
    const [x1, x2] = client ? [LEFT, RIGHT] : [RIGHT, LEFT];
    parts.push(s("line", { class: `wsp-arrow ${kind}`, x1, y1: y, x2, y2: y, "marker-end": `url(#${id})`, dataset: { index: String(index) } }));
    const text = `${typeName(opcode)}${fragment ? (flags & 1 ? " (last)" : " (fin=0)") : ""} ${length} B ${preview || ""}`.slice(0, 60);
    parts.push(s("text", { class: `wsp-seq-label ${kind}`, x: WIDTH / 2, y: y - 4, "text-anchor": "middle" }, text));
    y += STEP;
  }
  const height = y + 10;
  const svg = s(
    "svg",
    { class: "wsp-seq", viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, role: "img", "aria-label": "sequence diagram" },
    s("defs", null, s("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "wsp-arrowhead" }))),
    s("line", { class: "wsp-lifeline", x1: LEFT, y1: 26, x2: LEFT, y2: height }),
    s("line", { class: "wsp-lifeline", x1: RIGHT, y1: 26, x2: RIGHT, y2: height }),
    s("text", { class: "wsp-seq-actor", x: LEFT, y: 16, "text-anchor": "middle" }, "client"),
    s("text", { class: "wsp-seq-actor", x: RIGHT, y: 16, "text-anchor": "middle" }, "server"),
    parts,
  );
  return svg;
}

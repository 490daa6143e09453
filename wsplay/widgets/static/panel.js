// The server and client panels: status and controls, connections, the frame table and inspector,
// pictures (sequence diagram, sparklines, handshake) and warnings. Python pushes at most ten
// updates a second; everything here is drawn from the model's traits and the rows in `_feed`.

import { button, clear, fmtBytes, fmtTime, h, select, setOptions } from "./util.js";
import { FrameTable } from "./table.js";
import { Inspector } from "./inspector.js";
import { sequenceDiagram } from "./sequence.js";
import { Charts } from "./charts.js";
import { handshakeView } from "./handshake.js";

const STALE_MS = 6000; // no push for this long (Python beats every 2 s): the kernel is gone
const SEQUENCE_FRAMES = 40;
const TYPES = [[null, "all types"], ["TEXT", "TEXT"], ["BINARY", "BINARY"], ["CONTINUE", "CONTINUE"], ["CLOSE", "CLOSE"], ["PING", "PING"], ["PONG", "PONG"], ["data", "data frames"], ["control", "control frames"], ["reserved", "reserved opcodes"]];
const DIRECTIONS = [[null, "both directions"], ["in", "▼ in: received"], ["out", "▲ out: sent"]];

function field(label, control) {
  return h("label", { class: "wsp-field-label" }, label, " ", control);
}

// A connection's negotiated extensions and parameters, and its compression ratio each way
// (compressed payload bytes on the wire per byte inflated).
function compressionCell(extensions, compression) {
  if (!extensions || !extensions.length) return h("span", { class: "wsp-muted", title: "no extension was negotiated: frames go uncompressed" }, "none");
  const names = extensions.map((e, i) => [i ? ", " : "", h("b", null, e.name), e.params.length ? h("span", { class: "wsp-muted" }, `; ${e.params.join("; ")}`) : null]);
  const ways = [];
  for (const way of ["in", "out"]) {
    const c = (compression || {})[way];
    if (!c || c.ratio === null || c.ratio === undefined) continue;
    ways.push(h("span", { class: "wsp-ratio", title: `${way}: ${c.wire} bytes of compressed payload on the wire inflated to ${c.inflated} (bytes on the wire per byte inflated)` }, `${way} ${c.ratio.toFixed(2)}`));
  }
  const ratios = ways.length ? [" · ratio ", ways.map((w, i) => [i ? " · " : "", w])] : [" · ", h("span", { class: "wsp-muted" }, "nothing compressed yet")];
  return h("span", { class: "wsp-compression" }, names, ratios);
}

function checkbox(label, checked = false) {
  const box = h("input", { type: "checkbox" });
  box.checked = checked;
  return { box, el: h("label", { class: "wsp-check" }, box, " ", label) };
}

function render({ model, el }) {
  const kind = model.get("kind");
  const viewId = Math.random().toString(36).slice(2);
  const cleanups = [];
  const on = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  const root = h("div", { class: `wsp-panel wsp-kind-${kind}` });
  el.append(root);
  let dead = false;
  const send = (content) => {
    try {
      model.send({ ...content, view: viewId });
    } catch (e) {
      markDead(`cannot reach the kernel: ${e}`);
    }
  };
  const act = (name, args = {}) => send({ kind: "action", name, args });
  const setTrait = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  // -- status, controls, errors --------------------------------------------------------------------
  const banner = h("div", { class: "wsp-banner", hidden: true });
  const status = h("div", { class: "wsp-status" });
  const error = h("div", { class: "wsp-error", hidden: true });
  const controls = kind === "server" ? serverControls(model, act) : clientControls(model, act);
  const exportHar = button("Export HAR", () => send({ kind: "export", format: "har" }), { title: "download this session as HAR 1.2 (Chrome DevTools and HAR viewers open it)", class: "wsp-button wsp-export" });
  const exportJsonl = button("Export JSONL", () => send({ kind: "export", format: "jsonl" }), { title: "download this session as JSON lines" });
  root.append(banner, h("div", { class: "wsp-bar" }, status, controls.top, exportHar, exportJsonl), error, controls.rest);

  // -- connections (server) ---------------------------------------------------------------------------
  let picked = null; // the connection the pictures show (null: the newest frame's)
  const conns = h("div", { class: "wsp-conns" });
  if (kind === "server") root.append(h("div", { class: "wsp-heading" }, "Connections"), conns);

  // -- frames -----------------------------------------------------------------------------------------
  const filters = () => ({ connection: null, direction: null, type: null, ...(model.get("filters") || {}) });
  const setFilter = (key, value) => setTrait("filters", { ...filters(), [key]: value });
  const connFilter = select([[null, "all connections"]], null, (v) => setFilter("connection", v));
  const dirFilter = select(DIRECTIONS, null, (v) => setFilter("direction", v));
  const typeFilter = select(TYPES, null, (v) => setFilter("type", v));
  const search = h("input", { class: "wsp-search", type: "search", placeholder: "search payloads (text or regex)", "aria-label": "search payloads" });
  const regex = checkbox("regex");
  let searchTimer = null;
  const pushSearch = () => setTrait("search", { query: search.value, regex: regex.box.checked });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(pushSearch, 250);
  });
  regex.box.addEventListener("change", pushSearch);
  const pause = button("Pause", () => setTrait("paused", !model.get("paused")), { class: "wsp-button wsp-pause" });
  const clearButton = button("Clear", () => send({ kind: "clear" }), { title: "hide the frames so far (the recorder keeps them)" });
  const follow = checkbox("follow the tail", true);
  const searchError = h("span", { class: "wsp-error" });
  const head = h("div", { class: "wsp-muted wsp-table-head" });
  const table = new FrameTable({
    side: kind,
    onSelect: (index) => {
      if (model.get("selected") === index) send({ kind: "inspect", index });
      else setTrait("selected", index);
    },
  });
  table.onFollow = (v) => (follow.box.checked = v);
  follow.box.addEventListener("change", () => table.setFollow(follow.box.checked));
  const inspector = new Inspector({ side: kind, onDecode: (index, name) => send({ kind: "decode", index, name }) });
  root.append(
    h("div", { class: "wsp-heading" }, "Frames"),
    h("div", { class: "wsp-toolbar" }, kind === "server" ? connFilter : null, dirFilter, typeFilter, search, regex.el, pause, clearButton, follow.el, searchError),
    head,
    h("div", { class: "wsp-frames" }, table.el, inspector.el),
  );

  // -- pictures -----------------------------------------------------------------------------------------
  const sequence = h("div", { class: "wsp-sequence" });
  const charts = new Charts();
  const handshake = h("div", { class: "wsp-hs" });
  root.append(
    h("div", { class: "wsp-heading" }, "Pictures"),
    h("div", { class: "wsp-pictures" }, h("div", null, h("div", { class: "wsp-section wsp-seq-title" }), sequence), h("div", null, charts.el, handshake)),
  );
  const warnings = h("div", { class: "wsp-warnings" });
  if (kind === "server") root.append(h("div", { class: "wsp-heading" }, "Warnings"), warnings);

  // -- drawing from the model -----------------------------------------------------------------------------
  function drawStatus() {
    const st = model.get("status") || {};
    clear(status);
    if (kind === "server") {
      if (st.running) {
        const page = /^https?:\/\//.test(st.page || "") ? h("a", { href: st.page, target: "_blank", rel: "noopener" }, st.page) : null;
        status.append(h("span", { class: "wsp-ok" }, "● "), "running at ", h("code", null, st.url), page ? " · browser page " : "", page, ` · ${st.open} open connection${st.open === 1 ? "" : "s"}`);
      } else status.append(h("span", { class: "wsp-muted" }, "○ stopped"));
    } else {
      if (!st.state) status.append(h("span", { class: "wsp-muted" }, "○ not connected"));
      else if (st.state === "open") status.append(h("span", { class: "wsp-ok" }, "● "), "open to ", h("code", null, st.url), " · ", compressionCell(st.extensions, st.compression));
      else if (st.state !== "closed") status.append(`◐ ${st.state} `, h("code", null, st.url));
      else {
        status.append(`○ closed (${st.url})`);
        if (st.close_code !== null && st.close_code !== undefined) status.append(`: ${st.close_code} ${st.close_name}`);
        if (st.close_reason) status.append(" ", h("q", { class: "wsp-reason" }, st.close_reason));
        if (st.closed_by) status.append(` · started by ${st.closed_by}`);
      }
    }
    controls.update(st);
  }

  function drawError() {
    const text = model.get("error");
    error.hidden = !text;
    error.textContent = text || "";
  }

  function drawConnections() {
    const rows = model.get("connections") || [];
    setOptions(connFilter, [[null, "all connections"], ...rows.map((c) => [c.id, `connection ${c.id}`]).sort((a, b) => a[0] - b[0])], filters().connection);
    if (kind !== "server") return;
    controls.setTargets(rows.filter((c) => c.state === "open").map((c) => c.id));
    clear(conns);
    if (!rows.length) {
      conns.append(h("span", { class: "wsp-muted" }, "no connections yet"));
      return;
    }
    const head = ["id", "remote", "path", "opened", "in: frames / bytes", "out: frames / bytes", "compression", "state", "close"];
    const body = rows.map((c) => {
      const close = c.close;
      const closeCell = close ? h("span", null, `${close.code} ${close.name}`, close.reason ? [" ", h("q", { class: "wsp-reason" }, close.reason)] : null, ` · by ${close.by}`, close.clean ? "" : h("span", { class: "wsp-warn" }, " · unclean")) : "";
      return h(
        "tr",
        { class: `${c.id === picked ? "wsp-selected" : ""}`, dataset: { id: String(c.id) }, onclick: () => pick(c.id), title: "show this connection's sequence diagram and handshake" },
        h("td", null, String(c.id)),
        h("td", null, c.remote),
        h("td", null, c.path),
        h("td", null, c.opened ? fmtTime(c.opened) : ""),
        h("td", null, `${c.frames_in} / ${fmtBytes(c.bytes_in)}`),
        h("td", null, `${c.frames_out} / ${fmtBytes(c.bytes_out)}`),
        h("td", { class: "wsp-conn-compression" }, compressionCell(c.extensions, c.compression)),
        h("td", null, c.state),
        h("td", null, closeCell),
      );
    });
    conns.append(h("table", { class: "wsp-grid" }, h("thead", null, h("tr", null, head.map((x) => h("th", null, x)))), h("tbody", null, body)));
  }

  function pick(id) {
    picked = id;
    drawConnections();
    drawPictures();
  }

  function drawHead() {
    const t = model.get("table") || {};
    const rec = model.get("recording") || {};
    const paused = model.get("paused");
    if (rec.max_frames) table.limit = rec.max_frames; // the browser keeps as many rows as the recorder
    pause.textContent = paused ? "Resume" : "Pause";
    pause.classList.toggle("wsp-active", !!paused);
    const parts = [`${table.rows.length.toLocaleString()} rows here`, `${(t.matching || 0).toLocaleString()} matching`, `${(t.recorded || 0).toLocaleString()} recorded`];
    if (t.backlog) parts.push(`${t.backlog.toLocaleString()} still coming (the panel sends at most 500 rows a push)`);
    if (rec.dropped) parts.push(`the recorder keeps the last ${rec.max_frames.toLocaleString()} frames`);
    if (rec.payload_bytes !== undefined) parts.push(`payloads kept whole: ${fmtBytes(rec.kept_bytes)} of ${fmtBytes(rec.payload_bytes)}`);
    if (rec.enabled === false) parts.splice(0, parts.length, "recording is off for this host (.record(False))");
    if (paused) parts.push("paused");
    head.textContent = parts.join(" · ");
    searchError.textContent = model.get("search_error") || "";
  }

  function drawPictures() {
    const rows = table.rows;
    let conn = picked;
    const sel = model.get("selected");
    if (conn === null && sel !== null && sel !== undefined) {
      const row = rows.find((r) => r[0] === sel);
      if (row) conn = row[2];
    }
    if (conn === null && filters().connection !== null) conn = filters().connection;
    if (conn === null && rows.length) conn = rows[rows.length - 1][2];
    const mine = [];
    for (let i = rows.length - 1; i >= 0 && mine.length < SEQUENCE_FRAMES; i--) if (rows[i][2] === conn) mine.push(rows[i]);
    mine.reverse();
    root.querySelector(".wsp-seq-title").textContent = conn === null ? "sequence diagram: no frames yet" : `sequence diagram: connection ${conn}, its last ${mine.length} frame${mine.length === 1 ? "" : "s"} in the table`;
    sequence.replaceChildren(sequenceDiagram(mine, kind));
    charts.render();
    const hs = model.get("handshakes") || {};
    const ids = Object.keys(hs);
    const hsId = conn !== null && hs[String(conn)] ? String(conn) : ids.length ? ids[ids.length - 1] : null;
    handshake.replaceChildren(h("div", { class: "wsp-section" }, "handshake"), hsId === null ? h("div", { class: "wsp-muted" }, "no handshake yet") : handshakeView(hsId, hs[hsId]));
  }

  function drawWarnings() {
    if (kind !== "server") return;
    const rows = model.get("warnings") || [];
    clear(warnings);
    if (!rows.length) {
      warnings.append(h("span", { class: "wsp-muted" }, "no warnings"));
      return;
    }
    warnings.append(
      h(
        "ul",
        null,
        rows.map((w) =>
          h(
            "li",
            { class: `wsp-warning wsp-w-${w.kind}` },
            w.kind === "more" ? null : h("b", { class: "wsp-warn" }, w.kind),
            w.time ? ` ${fmtTime(w.time)} ` : " ",
            w.summary,
            w.fix ? h("div", null, "fix: ", w.fix, w.notebook ? [" · explained in ", h("code", null, w.notebook)] : null) : null,
            w.traceback ? h("details", null, h("summary", null, "traceback"), h("pre", { class: "wsp-pre" }, w.traceback)) : null,
          ),
        ),
      ),
    );
  }

  // -- liveness -----------------------------------------------------------------------------------------
  let lastFeed = Date.now();
  function markDead(why) {
    dead = true;
    root.classList.add("wsp-dead");
    banner.hidden = false;
    banner.textContent = why;
  }
  const watchdog = setInterval(() => {
    const quiet = Date.now() - lastFeed;
    if (quiet > STALE_MS) markDead(`disconnected: no word from the kernel for ${Math.round(quiet / 1000)} s (restarted, shut down, or this is a saved notebook). What you see is the last state it sent; run the cell again for a live panel.`);
  }, 1000);
  cleanups.push(() => clearInterval(watchdog));

  // -- events -------------------------------------------------------------------------------------------
  on("change:_feed", () => {
    const feed = model.get("_feed") || {};
    lastFeed = Date.now();
    if (dead) {
      dead = false;
      root.classList.remove("wsp-dead");
      banner.hidden = true;
    }
    if (feed.reset) table.reset(feed.rows || []);
    else if (feed.rows || feed.back) table.add(feed.rows, feed.back);
    if (feed.rates) charts.add(feed.rates, feed.rtt);
    drawHead();
    drawPictures();
  });
  on("change:status", drawStatus);
  on("change:error", drawError);
  on("change:connections", drawConnections);
  on("change:warnings", drawWarnings);
  on("change:table", drawHead);
  on("change:recording", drawHead);
  on("change:paused", drawHead);
  on("change:search_error", drawHead);
  on("change:handshakes", drawPictures);
  on("change:decoders", () => inspector.setDecoders(model.get("decoders") || []));
  on("change:filters", () => {
    const f = filters();
    setOptions(connFilter, connFilter._options, f.connection);
    setOptions(dirFilter, DIRECTIONS, f.direction);
    setOptions(typeFilter, TYPES, f.type);
  });
  on("change:search", () => {
    const q = model.get("search") || {};
    if (document.activeElement !== search) search.value = q.query || "";
    regex.box.checked = !!q.regex;
  });
  on("msg:custom", (content, buffers) => {
    if (!content || typeof content !== "object") return;
    if (content.kind === "frame") {
      table.selected = content.index;
      table.render();
      inspector.show(content, buffers);
      drawPictures();
    } else if (content.kind === "decoded") {
      inspector.decoded(content);
    } else if (content.kind === "download" && content.view === viewId) {
      const blob = new Blob([buffers[0]], { type: content.mime || "application/octet-stream" });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: content.name, hidden: true });
      root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
    }
  });

  inspector.setDecoders(model.get("decoders") || []);
  const q = model.get("search") || {};
  search.value = q.query || "";
  regex.box.checked = !!q.regex;
  setOptions(dirFilter, DIRECTIONS, filters().direction);
  setOptions(typeFilter, TYPES, filters().type);
  drawStatus();
  drawError();
  drawConnections();
  drawWarnings();
  drawHead();
  drawPictures();
  send({ kind: "hello" }); // the table's rows come in the next push
  const selected = model.get("selected");
  if (selected !== null && selected !== undefined) send({ kind: "inspect", index: selected });
  return () => cleanups.forEach((fn) => fn());
}

function serverControls(model, act) {
  const start = button("Start", () => act("start"));
  const stop = button("Stop", () => act("stop"));
  const restart = button("Restart", () => act("restart"));
  const target = select([[null, "all open connections"]], null, () => {});
  const text = h("input", { type: "text", placeholder: "text to send", class: "wsp-grow", "aria-label": "text to send" });
  const chosen = () => {
    const o = target._options[target.selectedIndex];
    return o ? o[0] : null;
  };
  const sendButton = button("Send", () => act("send", { text: text.value, target: chosen() }));
  const code = select([[1000, "1000 normal closure"]], 1000, () => {});
  const reason = h("input", { type: "text", placeholder: "close reason", "aria-label": "close reason" });
  const closeButton = button("Close", () => act("close", { code: code._options[code.selectedIndex][0], reason: reason.value, target: chosen() }), { title: "close the chosen connection(s) with this code" });
  return {
    top: h("span", { class: "wsp-group" }, start, stop, restart),
    rest: h("div", { class: "wsp-send" }, target, text, sendButton, code, reason, closeButton),
    update(st) {
      start.disabled = !!st.running;
      stop.disabled = !st.running;
      if (st.close_codes) setOptions(code, st.close_codes.map(([c, name]) => [c, `${c} ${name}`]), code._options ? code._options[code.selectedIndex][0] : 1000);
    },
    setTargets(ids) {
      setOptions(target, [[null, "all open connections"], ...ids.map((i) => [i, `connection ${i}`])], chosen());
    },
  };
}

function clientControls(model, act) {
  const url = h("input", { type: "text", class: "wsp-grow", placeholder: "ws://127.0.0.1:8080/", "aria-label": "URL" });
  const connect = button("Connect", () => act("connect", { url: url.value }));
  const disconnect = button("Disconnect", () => act("disconnect"), { title: "close with 1000" });
  const payload = h("textarea", { rows: 2, class: "wsp-grow", placeholder: "payload", "aria-label": "payload" });
  const asHex = checkbox("payload is hex");
  const size = h("input", { type: "number", min: 1, value: 4, class: "wsp-small-input", "aria-label": "fragment size" });
  const args = () => ({ text: payload.value, hex: asHex.box.checked });
  const code = h("input", { type: "number", min: 0, max: 65535, value: 1000, class: "wsp-small-input", "aria-label": "close code" });
  const reason = h("input", { type: "text", placeholder: "close reason", "aria-label": "close reason" });
  const opcode = select([[1, "0x1 TEXT"]], 1, () => {});
  const fin = checkbox("FIN", true);
  const rsv = [checkbox("RSV1"), checkbox("RSV2"), checkbox("RSV3")];
  const masked = checkbox("masked", true);
  const lie = checkbox("declare length");
  const length = h("input", { type: "number", min: 0, value: 0, class: "wsp-small-input", "aria-label": "declared length" });
  const raw = h("input", { type: "text", class: "wsp-grow", placeholder: "raw payload", "aria-label": "raw payload" });
  const rawHex = checkbox("hex");
  const sendRaw = button("Send raw frame", () =>
    act("raw", {
      opcode: opcode._options[opcode.selectedIndex][0],
      payload: raw.value,
      hex: rawHex.box.checked,
      fin: fin.box.checked,
      rsv1: rsv[0].box.checked,
      rsv2: rsv[1].box.checked,
      rsv3: rsv[2].box.checked,
      masked: masked.box.checked,
      length: lie.box.checked ? Number(length.value) : null,
    }),
  );
  let urlSet = false;
  return {
    top: h("span", { class: "wsp-group wsp-grow" }, url, connect, disconnect),
    rest: h(
      "div",
      null,
      h("div", { class: "wsp-heading" }, "Send"),
      h("div", { class: "wsp-send" }, payload, asHex.el),
      h(
        "div",
        { class: "wsp-send" },
        button("Text", () => act("text", args()), { title: "send as one TEXT frame" }),
        button("Binary", () => act("binary", args()), { title: "send as one BINARY frame" }),
        field("fragment", size),
        button("Fragmented", () => act("fragmented", { ...args(), size: Number(size.value) }), { title: "send as fragments of this many bytes" }),
        button("Ping", () => act("ping", args()), { title: "ping with the payload as data" }),
        field("code", code),
        reason,
        button("Close", () => act("close", { code: Number(code.value), reason: reason.value }), { title: "start the close handshake" }),
      ),
      h("div", { class: "wsp-heading" }, "Raw frame ", h("span", { class: "wsp-muted" }, "(nothing is checked: see how the server answers)")),
      h("div", { class: "wsp-send" }, opcode, fin.el, rsv.map((r) => r.el), masked.el, lie.el, length),
      h("div", { class: "wsp-send" }, raw, rawHex.el, sendRaw),
    ),
    update(st) {
      if (!urlSet || (st.url && document.activeElement !== url && url.value !== st.url && st.state)) {
        url.value = st.url || "";
        urlSet = true;
      }
      connect.disabled = st.state === "connecting" || st.state === "open";
      disconnect.disabled = st.state !== "open";
      if (st.opcodes) setOptions(opcode, st.opcodes, opcode._options ? opcode._options[opcode.selectedIndex][0] : 1);
    },
    setTargets() {},
  };
}

export default { render };

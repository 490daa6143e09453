// The opening handshake of a connection: request line and headers, response status and headers,
// and what was negotiated (subprotocol, extensions). The Sec-WebSocket-Extensions lines (the offer,
// the answer) are marked: they are where permessage-deflate is agreed.

import { h } from "./util.js";

function head(title, line, headers) {
  return h(
    "div",
    { class: "wsp-hs-part" },
    h("div", { class: "wsp-section" }, title),
    h("div", { class: "wsp-hs-line" }, line || "(not recorded)"),
    h("table", { class: "wsp-hs-headers" }, h("tbody", null, (headers || []).map(([k, v]) => h("tr", { class: /^sec-websocket-extensions$/i.test(k) ? "wsp-hs-ext" : null }, h("td", { class: "wsp-hs-name" }, k), h("td", null, v))))),
  );
}

export function handshakeView(id, hs) {
  if (!hs) return h("div", { class: "wsp-muted" }, "no handshake recorded for this connection (it may have fallen off the recorder)");
  return h(
    "div",
    { class: "wsp-handshake" },
    h("div", { class: "wsp-title" }, `connection ${id}`, hs.remote ? ` from ${hs.remote}` : "", hs.url ? ` · ${hs.url}` : ""),
    h("div", null, "subprotocol: ", h("b", null, hs.subprotocol || "none"), " · extensions: ", h("b", null, hs.extensions || "none")),
    h("div", { class: "wsp-hs-cols" }, head("request", hs.request_line, hs.request_headers), head("response", hs.status_line, hs.response_headers)),
  );
}

// The check results: a summary by section and verdict, the list of cases, and the selected case's
// conversation: its notes (HTTP heads, waits, the TCP close), its frames in the panels' frame table,
// and the inspector's bit diagram for the frame clicked. Every string from the peer is text.

import { clear, h } from "./util.js";
import { FrameTable } from "./table.js";
import { Inspector } from "./inspector.js";

const VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED"];

function badge(verdict) {
  return h("span", { class: `wsp-verdict wsp-v-${verdict.toLowerCase()}` }, verdict);
}

function render({ model, el }) {
  const root = h("div", { class: "wsp-panel wsp-kind-check" });
  el.append(root);
  const cleanups = [];
  const on = (event, fn) => {
    model.on(event, fn);
    cleanups.push(() => model.off(event, fn));
  };
  // The suite played the client against a server, or the server for a client: whose "out" frames are these.
  const suiteSide = () => (model.get("kind") === "client" ? "server" : "client");
  let filter = { verdict: null, section: null, notOk: true };

  const headline = h("div", { class: "wsp-title wsp-check-headline" });
  const summary = h("div", { class: "wsp-check-summary" });
  const filters = h("div", { class: "wsp-toolbar wsp-check-filters" });
  const list = h("div", { class: "wsp-check-list", role: "listbox", "aria-label": "cases" });
  const detail = h("div", { class: "wsp-check-detail" });
  const timeline = h("ol", { class: "wsp-check-timeline" });
  const table = new FrameTable({
    side: suiteSide(),
    onSelect: (index) => model.send({ kind: "inspect", case: model.get("selected"), index }),
  });
  const inspector = new Inspector({ side: suiteSide(), onDecode: () => {} });
  root.append(
    headline,
    summary,
    h("div", { class: "wsp-heading" }, "Cases"),
    filters,
    h("div", { class: "wsp-check-body" }, list, h("div", { class: "wsp-check-case" }, detail, h("div", { class: "wsp-section" }, "conversation"), timeline)),
    h("div", { class: "wsp-heading" }, "Frames of the selected case ", h("span", { class: "wsp-muted" }, "(click one for its header bit by bit)")),
    h("div", { class: "wsp-frames" }, table.el, inspector.el),
  );

  function drawSummary() {
    headline.textContent = model.get("headline") || "";
    clear(summary);
    const rows = model.get("sections") || [];
    const total = Object.fromEntries(VERDICTS.map((v) => [v, rows.reduce((n, r) => n + (r[v] || 0), 0)]));
    const cell = (section, v, n) =>
      h(
        "td",
        { class: `wsp-num${n ? ` wsp-v-cell-${v.toLowerCase()}` : " wsp-muted"}`, title: n ? `show the ${v} cases${section ? ` of ${section}` : ""}` : "", onclick: n ? () => setFilter({ verdict: v, section, notOk: false }) : null },
        String(n),
      );
    summary.append(
      h(
        "table",
        { class: "wsp-grid wsp-check-grid" },
        h("thead", null, h("tr", null, h("th", null, "section"), VERDICTS.map((v) => h("th", null, badge(v))))),
        h(
          "tbody",
          null,
          rows.map((r) => h("tr", null, h("td", { class: "wsp-check-section", onclick: () => setFilter({ verdict: null, section: r.section, notOk: false }), title: "show this section's cases" }, r.section), VERDICTS.map((v) => cell(r.section, v, r[v] || 0)))),
          h("tr", { class: "wsp-check-total" }, h("td", null, "all"), VERDICTS.map((v) => cell(null, v, total[v]))),
        ),
      ),
    );
  }

  function setFilter(next) {
    filter = next;
    drawFilters();
    drawList();
  }

  function drawFilters() {
    clear(filters);
    const chip = (label, active, next) => h("button", { class: `wsp-button${active ? " wsp-active" : ""}`, type: "button", onclick: () => setFilter(next) }, label);
    // Element.append() would turn an array (or null) into text: the chips go in one by one.
    const chips = [
      chip("not OK", filter.notOk, { verdict: null, section: null, notOk: true }),
      chip("all", !filter.notOk && !filter.verdict && !filter.section, { verdict: null, section: null, notOk: false }),
      ...VERDICTS.map((v) => chip(v, filter.verdict === v && !filter.section, { verdict: v, section: null, notOk: false })),
    ];
    if (filter.section) chips.push(h("span", { class: "wsp-muted" }, ` section ${filter.section}${filter.verdict ? `, ${filter.verdict}` : ""}`));
    filters.append(...chips);
  }

  function shown() {
    return (model.get("cases") || []).filter(
      (c) => (!filter.notOk || c.verdict !== "OK") && (!filter.verdict || c.verdict === filter.verdict) && (!filter.section || c.section === filter.section),
    );
  }

  function drawList() {
    clear(list);
    const cases = shown();
    if (!cases.length) {
      list.append(h("div", { class: "wsp-muted" }, filter.notOk ? "every case is OK" : "no case matches"));
      return;
    }
    const selected = model.get("selected");
    for (const c of cases) {
      list.append(
        h(
          "div",
          {
            class: `wsp-check-item${c.id === selected ? " wsp-selected" : ""}`,
            role: "option",
            dataset: { id: c.id },
            title: `${c.rfc}: ${c.actual}`,
            onclick: () => {
              model.set("selected", c.id);
              model.save_changes();
            },
          },
          h("span", { class: "wsp-check-id" }, c.id),
          badge(c.verdict),
          h("span", { class: "wsp-check-text" }, c.title),
        ),
      );
    }
  }

  function drawCase() {
    const c = model.get("conversation") || {};
    clear(detail);
    clear(timeline);
    if (!c.id) {
      detail.append(h("div", { class: "wsp-muted" }, "select a case"));
      table.reset([]);
      return;
    }
    detail.append(
      h("div", { class: "wsp-title" }, `${c.id} `, badge(c.verdict), ` ${c.title}`),
      h("div", { class: "wsp-muted" }, `${c.section} · ${c.rfc} · ${(c.duration * 1000).toFixed(1)} ms`),
      h("table", { class: "wsp-grid wsp-check-facts" }, h("tbody", null,
        h("tr", null, h("th", null, "expected"), h("td", null, c.expected)),
        h("tr", null, h("th", null, "happened"), h("td", null, c.actual)),
        c.note ? h("tr", null, h("th", null, "why"), h("td", null, c.note)) : null)),
    ); // prettier-ignore
    for (const e of c.entries || []) {
      const arrow = e.dir === "out" ? "▲ " : e.dir === "in" ? "▼ " : "· ";
      const item = h(
        "li",
        { class: `wsp-check-entry wsp-check-${e.dir || "note"}${e.frame !== undefined ? " wsp-check-frame" : ""}`, dataset: e.frame !== undefined ? { frame: String(e.frame) } : {} },
        h("span", { class: "wsp-muted wsp-num" }, `${(e.t * 1000).toFixed(1)} ms `),
        e.connection > 1 ? h("span", { class: "wsp-muted" }, `[${e.connection}] `) : null,
        arrow,
        e.text.includes("\n") ? h("pre", { class: "wsp-pre" }, e.text) : e.text,
      );
      if (e.frame !== undefined) item.addEventListener("click", () => table.select(e.frame));
      timeline.append(item);
    }
    table.selected = null;
    table.reset(c.rows || []);
    inspector.el.replaceChildren(h("div", { class: "wsp-muted" }, "select a frame in the table to inspect it"));
  }

  on("change:headline", drawSummary);
  on("change:sections", drawSummary);
  on("change:cases", drawList);
  on("change:selected", drawList);
  on("change:conversation", drawCase);
  on("msg:custom", (content, buffers) => {
    if (!content || content.kind !== "frame") return;
    table.selected = content.index;
    table.render();
    inspector.show(content, buffers && buffers[0]);
  });

  const first = model.get("cases") || [];
  if (first.length && first.every((c) => c.verdict === "OK")) filter.notOk = false;
  drawSummary();
  drawFilters();
  drawList();
  drawCase();
  return () => cleanups.forEach((fn) => fn());
}

export default { render };

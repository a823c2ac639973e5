// The protocol summary: transports and apps, a table and a bar chart each.
import { $, state, td, pick, protoLabel, FLOW_FILTERS } from "/ui/common.js";
import { getJSON } from "/ui/api.js";
import { drawBars, human } from "/ui/chart.js";

// Transports and apps are two views of the same packets: each has its own chart, so
// that no packet is counted twice in one ranking.
export async function loadSummary() {
  const s = await getJSON("/api/protocol_summary", pick(state.filter, FLOW_FILTERS));
  const scope = $("summary-scope");
  scope.dataset.counted = s.counted;
  scope.textContent = s.counted === "flows"
    ? "counted from flows: each flow that starts in the range, with all its packets (an address or port filter)" : "";
  const rows = [];
  for (const [kind, list] of [["transport", s.transports], ["app", s.apps]]) {
    for (const e of list) {
      const tr = document.createElement("tr");
      tr.append(td(kind), td(kind === "transport" ? protoLabel(e.name) : e.name), td(e.packets, "num"), td(human(e.bytes), "num"),
        td(e.flows, "num"));
      rows.push(tr);
    }
  }
  document.querySelector("#summary tbody").replaceChildren(...rows);
  for (const [id, list, label] of [["summary-chart", s.transports, protoLabel], ["apps-chart", s.apps, (x) => x]]) {
    const items = list.slice().sort((a, b) => b.packets - a.packets).map((e) => ({ label: label(e.name), value: e.packets }));
    drawBars($(id), items, "pkts");
    $(id).dataset.items = JSON.stringify(items);
    $(id).setAttribute("aria-label", (id === "apps-chart" ? "Packets per app: " : "Packets per transport: ") +
      items.map((i) => i.label + " " + i.value).join(", "));
  }
  $("apps").replaceChildren(...s.apps.map((a) => { const o = document.createElement("option"); o.value = a.name; return o; }));
}

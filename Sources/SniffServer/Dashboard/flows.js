// The flows table: stored flows and those still in progress, ranked together.
import { $, state, td, fmtTime, protoLabel, flowInfo } from "/ui/common.js";
import { getJSON } from "/ui/api.js";
import { human } from "/ui/chart.js";
import { addressCell, countryCell } from "/ui/hosts.js";
import { processCell } from "/ui/procs.js";
import { showDetail, showFlowLogs } from "/ui/detail.js";
import { showError } from "/ui/errors.js";

// Stored flows and, beside a capture, the flows still in progress (open_rows), ranked
// together by the chosen key; a flow in progress says so in its State cell.
const FLOW_KEYS = {
  bytes: (r) => (r.orig_l2_bytes || 0) + (r.resp_l2_bytes || 0),
  packets: (r) => (r.orig_pkts || 0) + (r.resp_pkts || 0),
  time: (r) => r.ts,
};
export async function loadFlows() {
  const sort = $("flows-sort").value;
  // The tunnel choice is the flows table's own: the other panels' routes have no
  // tunnel column (/api/packets, the summary, the talkers).
  const q = { ...state.filter, sort, limit: 200 };
  if ($("flows-tunnel").value) q.tunnel = $("flows-tunnel").value;
  const f = await getJSON("/api/flows", q);
  const open = (f.open_rows || []).map((r) => ({ ...r, open: true }));
  const key = FLOW_KEYS[sort] || FLOW_KEYS.time;
  const rows = f.rows.concat(open).sort((a, b) => key(b) - key(a)).slice(0, 200);
  document.querySelector("#flows tbody").replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    if (r.open) tr.className = "open";
    tr.append(td(fmtTime(r.ts)), addressCell(r["id.orig_h"]), td(r["id.orig_p"]), addressCell(r["id.resp_h"]), td(r["id.resp_p"]), td(protoLabel(r.proto, r["id.orig_h"])),
      td(r.app), td(r.open ? r.conn_state + " · in progress" : r.conn_state), td(human(r.orig_l2_bytes), "num"),
      td(human(r.resp_l2_bytes), "num"), td(r.duration !== undefined ? Number(r.duration).toFixed(3) + " s" : "", "num"), td(flowInfo(r)),
      countryCell(r.resp_cc || r.orig_cc), processCell(r));
    tr.addEventListener("click", () => {
      showDetail(r, "Flow " + r.uid);
      // Flows in progress have no records stored yet.
      if (!r.open) showFlowLogs(r.uid).catch(showError);
    });
    return tr;
  }));
  $("flows-count").textContent = f.rows.length + " stored" + (f.open_rows ? ", " + open.length + " in progress" : "");
}

export function setUpFlows() {
  $("flows-sort").addEventListener("change", () => loadFlows().catch(showError));
  $("flows-tunnel").addEventListener("change", () => loadFlows().catch(showError));
}

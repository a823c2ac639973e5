// Which process: the processes panel (bytes each local process sent and received, and
// its flows, from /api/processes) and the flows table's Process cell. Command names and
// users come from /proc: text only, through textContent.
import { getJSON } from "/ui/api.js";
import { human } from "/ui/chart.js";
import { $, state, td as cell, rangeOnly, setScope, notFilteredBy } from "/ui/common.js";

// "curl (4242)", its user and container on hover; empty when no process owns the flow.
export function processCell(r) {
  const c = cell(r.process ? r.process + " (" + r.pid + ")" : "");
  if (r.process) c.title = "pid " + r.pid + (r.user ? ", user " + r.user : "") + (r.container ? ", container " + r.container : "");
  return c;
}

// The panel, in the time and capture range (`range`): up and down bars against the
// busiest process's total.
export async function loadProcesses(range) {
  const p = await getJSON("/api/processes", { ...range, limit: 15 });
  const max = Math.max(1, ...p.rows.map((r) => r.sent + r.received));
  $("procs").querySelector("tbody").replaceChildren(...p.rows.map((r) => {
    const tr = document.createElement("tr");
    const bar = document.createElement("td");
    bar.className = "bar updown";
    for (const [cls, v, what] of [["up", r.sent, "sent"], ["down", r.received, "received"]]) {
      const s = document.createElement("span");
      s.className = cls;
      s.style.width = (100 * v / max).toFixed(1) + "%";
      s.title = human(v) + "B " + what;
      bar.append(s);
    }
    tr.dataset.pid = String(r.pid);
    tr.append(cell(r.process), cell(r.pid, "num"), cell(r.user), cell(r.container), cell(human(r.sent), "num"),
      cell(human(r.received), "num"), cell(r.flows, "num"), bar);
    return tr;
  }));
  $("procs-note").textContent = p.rows.length ? "" : "None: processes are known for flows captured live on this " +
    "machine (sniff -i IFACE with --db or --serve), not for files or with --no-processes.";
}

export function clearProcesses() {
  $("procs").querySelector("tbody").replaceChildren();
  $("procs-note").textContent = "";
}

// Processes answer the time and capture range only (a flow filter would need each
// process's flows counted again).
export async function loadProcessPanel() {
  setScope("procs-scope", notFilteredBy(["from", "to", "capture"]));
  await loadProcesses(rangeOnly(state.filter));
}

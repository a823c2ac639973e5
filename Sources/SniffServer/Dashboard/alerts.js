// The alerts list: the stored alerts of the range, newest first, and live ones on top,
// never more than MAX_ALERTS in the page.
import { $, state, fmtTime, rangeOnly, setScope, notFilteredBy } from "/ui/common.js";
import { getJSON } from "/ui/api.js";

const MAX_ALERTS = 100;

function alertItem(a) {
  const li = document.createElement("li");
  const sev = String(a.severity || "info").toLowerCase();
  li.className = ["info", "low", "medium", "high", "critical"].includes(sev) ? sev : "info";
  const s = document.createElement("span"); s.className = "sev"; s.textContent = sev;
  const t = document.createElement("span"); t.className = "muted"; t.textContent = " " + fmtTime(a.ts) + " " + (a.rule || "");
  const m = document.createElement("div"); m.textContent = a.message || "";
  li.append(s, m, t);
  return li;
}

export async function loadAlerts() {
  const a = await getJSON("/api/alerts", { ...rangeOnly(state.filter), limit: MAX_ALERTS });
  setScope("alerts-scope", notFilteredBy(["from", "to", "capture"]), "alerts are kept per rule, not per packet");
  $("alerts").replaceChildren(...a.rows.map(alertItem));
}

// A live alert goes on top; the oldest leaves when the list is full, as the packets
// table keeps only its newest rows.
export function addLiveAlert(a) {
  const list = $("alerts");
  list.prepend(alertItem(a));
  while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
}

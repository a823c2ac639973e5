// Errors: at their field, under the form, or "server unreachable" until it answers.
import { $, state, tzName } from "/ui/common.js";
import { renderPackets } from "/ui/packets.js";
import { loadStats } from "/ui/header.js";
import { clearNetworkShares } from "/ui/geo.js";
import { clearProcesses } from "/ui/procs.js";

// What to do once the server answers again (the entry point's applyFilter).
let reloadAll = () => {};
export function whenReachableAgain(fn) { reloadAll = fn; }

const FIELDS = ["ip", "port", "transport", "app", "from", "to", "capture"];
// An error about one parameter shows at its field (aria-invalid, described by the
// message); any other under the form. Results of the previous filter are cleared, so
// that an error never sits above figures that do not answer the question.
export function showError(e) {
  for (const k of FIELDS) {
    const input = $("f-" + k);
    input.removeAttribute("aria-invalid");
    $("e-" + k).textContent = "";
  }
  $("f-error").textContent = "";
  if (!e) return;
  if (e.unreachable) { setUnreachable(true); return; }
  const at = e.parameter && FIELDS.includes(e.parameter) ? e.parameter : null;
  if (at) {
    // The server speaks of the API's time formats; the fields take the page's own.
    const message = (at === "from" || at === "to") && e.status === 400 && !/after/.test(e.message)
      ? "expected a time as YYYY-MM-DD HH:MM:SS (" + tzName() + ")" : e.message;
    $("f-" + at).setAttribute("aria-invalid", "true");
    $("e-" + at).textContent = message;
    $("f-error").textContent = "Fix the " + $("f-" + at).closest("label").firstChild.textContent.trim() + " field.";
  } else {
    $("f-error").textContent = e.message || String(e);
  }
  if (e.status === 400 || e.parameter) clearResults();
}
function clearResults() {
  state.rows = []; state.cursor = null; state.selected = -1;
  renderPackets();
  $("p-count").textContent = "no results: the filter has an error";
  for (const sel of ["#summary tbody", "#talkers tbody", "#hosts tbody", "#flows tbody"]) {
    document.querySelector(sel).replaceChildren();
  }
  clearNetworkShares();
  clearProcesses();
  $("flows-count").textContent = "";
  for (const id of ["chart-scope", "summary-scope", "alerts-scope"]) $(id).textContent = "";
  state.chartData = null;
  for (const id of ["chart", "summary-chart", "apps-chart"]) {
    const c = $(id);
    c.getContext("2d").clearRect(0, 0, c.width, c.height);
  }
  $("chart-legend").replaceChildren();
  $("chart-axis").textContent = "No chart: the filter has an error.";
}

// Server unreachable: said in the status pill, and the page tries again every 2 s
// until the server answers, then reloads its panels.
let unreachableTimer = null;
export function setUnreachable(on) {
  document.body.dataset.unreachable = String(on);
  $("unreachable").hidden = !on;
  if (on && !unreachableTimer) {
    unreachableTimer = setInterval(async () => {
      try {
        await loadStats();
        clearInterval(unreachableTimer); unreachableTimer = null;
        setUnreachable(false);
        reloadAll();
      } catch { /* still unreachable */ }
    }, 2000);
  }
}

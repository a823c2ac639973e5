// The header: source, state, rates, drops, stored count and lag, and the capture
// control buttons (shown only when the server allows them).
import { $, state, fmtTime, tzName, pick, setScope, notFilteredBy } from "/ui/common.js";
import { getJSON, post } from "/ui/api.js";
import { human, rate } from "/ui/chart.js";
import { otherCapture } from "/ui/captures.js";
import { setTimeBounds } from "/ui/filters.js";
import { drawChart } from "/ui/traffic.js";
import { showError } from "/ui/errors.js";

let statsLoadedOnce = false;
export async function loadStats() {
  const s = await getJSON("/api/stats", pick(state.filter, ["capture"]));
  $("h-source").textContent = s.source;
  $("h-source").title = s.source;
  state.captureControl = s.capture_control;
  showState(s.state);
  // One capture chosen: Stored is that capture's packets.
  const stored = s.capture ? s.capture.packets_stored : s.store.packets;
  $("h-stored").textContent = human(stored);
  $("h-stored").dataset.value = String(stored);
  $("h-stored").title = s.capture ? "packets stored by capture " + s.capture.id : "packets stored (all captures)";
  state.liveCaptureId = s.live_capture_id || "";
  const whose = otherCapture() ? "the running capture " + state.liveCaptureId + "'s" : "the whole capture's";
  setScope("h-scope", otherCapture() ? notFilteredBy([]) : notFilteredBy(["capture"]),
    "the header's rates, drops and active flows are " + whose + " and Stored counts every packet" +
    (s.capture ? " of the chosen capture" : ""));
  $("h-lag").textContent = s.store.lag_seconds === null ? "–" : (s.store.lag_seconds * 1000).toFixed(0) + " ms";
  if (!state.live) $("h-drops").textContent = String(s.store.kernel_dropped + s.store.interface_dropped + s.store.sniff_dropped);
  // A file keeps its own times: its chart is the stored packets in capture time; only
  // an interface capture opens on the last 5 minutes of wall clock.
  const firstLoad = !statsLoadedOnce;
  if (firstLoad && !s.live_capture) $("chart-range").value = "history";
  statsLoadedOnce = true;
  state.live = s.live;
  state.liveCapture = s.live_capture;
  if (typeof s.first_packet === "number" && typeof s.last_packet === "number") {
    const grown = !state.span || state.span.last !== s.last_packet;
    state.span = { first: s.first_packet, last: s.last_packet };
    setTimeBounds();
    // A file still being read: its chart grows with it.
    if (grown && !firstLoad && $("chart-range").value === "history" && !state.liveCapture) drawChart().catch(() => {});
  }
  $("controls").hidden = !s.capture_control;
  updateControls();
}

// The header's rates are the last complete second's counts (capture time on an
// interface), the numbers /api/timeseries gives for that second.
export function showRates(m) {
  const pps = $("h-pps"), bps = $("h-bps");
  pps.textContent = m.packets.toLocaleString("en-US") + " pkt/s";
  bps.textContent = rate(m.bytes * 8, "bit/s");
  pps.title = "second " + fmtTime(m.ts).slice(0, 19) + " " + tzName();
  bps.title = (m.bytes * 8).toLocaleString("en-US") + " bit/s";
  for (const e of [pps, bps]) { e.dataset.ts = String(m.ts); }
  pps.dataset.value = String(m.packets); bps.dataset.value = String(m.bytes * 8);
}

// The buttons follow the capture's real state (from /api/stats, the live stream and the
// answers to the buttons): Pause only while running, Resume only while paused, none
// once stopping or stopped, or when this server runs no live capture.
export function showState(s) {
  if (!s) return;
  state.capture = s;
  $("h-state").textContent = s;
  updateControls();
}
function updateControls() {
  const on = state.captureControl === true, s = state.capture;
  $("c-pause").disabled = !on || s !== "running";
  $("c-resume").disabled = !on || s !== "paused";
  $("c-stop").disabled = !on || !(s === "running" || s === "paused");
}
async function control(action) {
  try { showState((await post("/api/capture/" + action)).state); } catch (e) { showError(e); loadStats().catch(() => {}); }
}

export function setUpCaptureControl() {
  $("c-pause").addEventListener("click", () => control("pause"));
  $("c-resume").addEventListener("click", () => control("resume"));

  // Stop asks first, in a modal <dialog>: it keeps focus inside, Escape cancels, and
  // focus goes back to the Stop button (or wherever it was) when it closes.
  const stopDialog = $("stop-dialog");
  let focusBeforeDialog = null;
  $("c-stop").addEventListener("click", () => {
    focusBeforeDialog = document.activeElement;
    stopDialog.returnValue = "";
    stopDialog.showModal();
    $("stop-cancel").focus();
  });
  $("stop-cancel").addEventListener("click", () => stopDialog.close("cancel"));
  $("stop-confirm").addEventListener("click", () => stopDialog.close("stop"));
  stopDialog.addEventListener("close", async () => {
    const back = focusBeforeDialog || $("c-stop");
    if (stopDialog.returnValue === "stop") await control("stop");
    // After a stop every button is disabled: focus the state that now says "stopped".
    (back.disabled ? $("h-state") : back).focus();
  });
}

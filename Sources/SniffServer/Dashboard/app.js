// The dashboard's entry point: live header, traffic chart, summary, packets
// (virtualised), flows, talkers, alerts, filters in the URL, downloads and capture
// control. Each panel is a module of its own with a setUp function; main() below wires
// them, and nothing runs when a module is imported.
// Every string that comes from a packet is set with textContent, never innerHTML.

import { LiveSocket } from "/ui/api.js";
import { $, state, pick, FLOW_FILTERS } from "/ui/common.js";
import { readFilterFromURL, writeFilterToForm, readFilterFromForm, syncURL, showTimeLabels } from "/ui/filters.js";
import { showError, setUnreachable, whenReachableAgain } from "/ui/errors.js";
import { renderPackets, loadPackets, addLiveRows, setUpPackets } from "/ui/packets.js";
import { setUpDetail } from "/ui/detail.js";
import { updateDownloads, setUpDownloads } from "/ui/downloads.js";
import { loadSummary } from "/ui/protocols.js";
import { loadTalkers } from "/ui/talkers.js";
import { loadFlows, setUpFlows } from "/ui/flows.js";
import { loadAlerts, addLiveAlert } from "/ui/alerts.js";
import { loadCaptures, otherCapture } from "/ui/captures.js";
import { drawChart, setUpTraffic } from "/ui/traffic.js";
import { loadStats, showRates, showState, setUpCaptureControl } from "/ui/header.js";
import { loadHostNames, setUpHostPage } from "/ui/hosts.js";
import { loadNetworkShares } from "/ui/geo.js";
import { loadProcessPanel } from "/ui/procs.js";

let socket = null;

// Beside a capture (live, or a file still being read) the summary, talkers, hosts,
// flows and the header's stored counts are fetched again every second, so that they
// stay within about two seconds of the capture (the store takes partial batches every
// 0.5 s). Once the capture ends, two last rounds take what was stored at the end.
let refreshing = false, finalRounds = 2;
async function refreshPanels() {
  if (refreshing || document.hidden) return;
  refreshing = true;
  try {
    // Names first: the talkers and flows tables put them beside their addresses.
    await loadHostNames(state.filter).catch(() => {});
    await Promise.all([loadSummary(), loadTalkers(), loadFlows(), loadStats(), loadCaptures(),
      loadNetworkShares(pick(state.filter, FLOW_FILTERS)), loadProcessPanel()]);
    document.body.dataset.refreshed = String(Date.now());
  } catch (e) {
    showError(e);
  } finally {
    refreshing = false;
  }
}

function onLive(m) {
  if (m.type === "hello") {
    state.live = m.live;
    state.liveCaptureId = m.capture || "";
    $("h-source").textContent = m.source; showState(m.state);
  } else if (m.type === "history") {
    state.liveStats = m.stats.slice(-300);
  } else if (m.type === "stats") {
    state.liveStats.push(m);
    if (state.liveStats.length > 300) state.liveStats.shift();
    showRates(m);
    $("h-drops").textContent = String(m.drops.kernel + m.drops.interface + m.drops.sniff);
    $("h-flows").textContent = String(m.active_flows);
    showState(m.state);
    if ($("chart-range").value === "live" && !otherCapture()) drawChart().catch(() => {});
  } else if (m.type === "packets") {
    addLiveRows(m.rows);
    state.skipped += m.skipped;
    $("p-skipped").textContent = state.skipped ? state.skipped + " live rows skipped (rate limit)" : "";
  } else if (m.type === "alert") {
    addLiveAlert(m.alert);
  } else if (m.type === "filter") {
    // Whether the chosen capture's rows stream here (false: a stored capture chosen).
    document.body.dataset.streaming = String(m.streaming);
  } else if (m.type === "error") {
    showError(m);
  }
}

async function applyFilter() {
  // "loading" until this filter's panels are in: a script (or test) waiting for
  // "true" or "error" must not take the previous filter's state for this one's.
  document.body.dataset.loaded = "loading";
  showError(null);
  syncURL();
  updateDownloads();
  const live = {};
  for (const k of ["ip", "port", "transport", "app", "capture"]) if (state.filter[k]) live[k] = state.filter[k];
  socket.send(live);
  state.selected = -1;
  try {
    await loadCaptures();
    // A stored capture beside the running one has no live view: its stored packets in
    // capture time; back to the wall clock when the running capture (or all) is chosen.
    if (otherCapture() && $("chart-range").value === "live") { $("chart-range").value = "history"; state.rangeForced = true; }
    else if (!otherCapture() && state.rangeForced) { $("chart-range").value = "live"; state.rangeForced = false; }
    // Names first: the talkers and flows tables put them beside their addresses.
    await loadHostNames(state.filter).catch(() => {});
    await Promise.all([loadPackets(false), loadSummary(), loadTalkers(), loadFlows(), loadAlerts(), drawChart(), loadStats(),
      loadNetworkShares(pick(state.filter, FLOW_FILTERS)), loadProcessPanel()]);
    document.body.dataset.loaded = "true";
  } catch (e) {
    showError(e);
    document.body.dataset.loaded = "error";
  }
}

// Every second: refresh while a capture runs, and twice more once it ends.
function refreshWhileCapturing() {
  if (!state.live) return;
  const running = ["running", "paused", "stopping"].includes(state.capture);
  if (running) finalRounds = 2;
  else if (finalRounds > 0) finalRounds--;
  else return;
  refreshPanels();
}

// Where the sticky header ends, so that a focused control scrolled into view is not
// hidden under it.
function headerOffset() {
  const h = $("top");
  const sticky = getComputedStyle(h).position === "sticky";
  document.documentElement.style.scrollPaddingTop = sticky ? h.offsetHeight + 8 + "px" : "0px";
}

// Modal dialogs keep Tab and Shift-Tab among their own controls (the browser would
// otherwise let focus leave for its own toolbar).
function trapFocusInDialogs() {
  for (const dlg of document.querySelectorAll("dialog")) {
    dlg.addEventListener("keydown", (e) => {
      if (e.key !== "Tab") return;
      const f = Array.from(dlg.querySelectorAll("button, [href], input, select, [tabindex]:not([tabindex='-1'])"))
        .filter((x) => !x.disabled);
      if (!f.length) return;
      const i = f.indexOf(document.activeElement);
      const next = e.shiftKey ? (i <= 0 ? f.length - 1 : i - 1) : (i < 0 || i === f.length - 1 ? 0 : i + 1);
      f[next].focus();
      e.preventDefault();
    });
  }
}

function main() {
  state.tz = localStorage.getItem("sniff-tz") === "local" ? "local" : "utc";
  setUpPackets();
  setUpDetail();
  setUpDownloads();
  setUpFlows();
  setUpTraffic();
  setUpCaptureControl();
  setUpHostPage();
  trapFocusInDialogs();
  whenReachableAgain(applyFilter);
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement.tagName !== "INPUT") { $("f-ip").focus(); e.preventDefault(); }
  });

  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const r = readFilterFromForm();
    if (r.error) { showError(r.error); document.body.dataset.loaded = "error"; $("f-" + r.error.parameter).focus(); return; }
    state.filter = r.filter;
    applyFilter();
  });
  $("f-clear").addEventListener("click", () => { state.filter = {}; writeFilterToForm({}); applyFilter(); });
  // Choosing a capture applies at once, with the rest of the form.
  $("f-capture").addEventListener("change", () => $("filters").requestSubmit());

  // The time zone of every time on the page (and of the From/To fields).
  $("tz").value = state.tz;
  $("tz").addEventListener("change", () => {
    state.tz = $("tz").value === "local" ? "local" : "utc";
    localStorage.setItem("sniff-tz", state.tz);
    writeFilterToForm(state.filter);
    showTimeLabels();
    renderPackets();
    refreshPanels();
    loadAlerts().catch(() => {});
    drawChart().catch(() => {});
  });
  showTimeLabels();

  let socketWasDown = false;
  socket = new LiveSocket(onLive, (s, delay) => {
    const c = $("conn");
    c.className = "conn " + (s === "up" ? "up" : s === "down" ? "down" : "");
    c.textContent = s === "up" ? "live" : s === "down" ? "server unreachable, retrying in " + (delay / 1000).toFixed(1) + " s" : "connecting";
    // Back after a loss: the panels may have missed what happened meanwhile.
    if (s === "up" && socketWasDown) { socketWasDown = false; if (document.body.dataset.unreachable === "true") setUnreachable(false); }
    if (s === "down") {
      socketWasDown = true;
      // Is it the server or only the stream? A request tells.
      loadStats().catch((e) => { if (e.unreachable) setUnreachable(true); });
    }
  });

  state.filter = readFilterFromURL();
  writeFilterToForm(state.filter);
  loadStats().catch(showError).finally(applyFilter);
  setInterval(refreshWhileCapturing, 1000);
  setInterval(() => loadStats().catch((e) => { if (e.unreachable) setUnreachable(true); }), 5000);

  headerOffset();
  window.addEventListener("resize", headerOffset);
  // A focused element under the sticky header (Shift-Tab upwards) is scrolled clear of it.
  document.addEventListener("focusin", (e) => {
    const h = $("top");
    if (getComputedStyle(h).position !== "sticky" || h.contains(e.target) || e.target === document.body) return;
    const r = e.target.getBoundingClientRect(), bottom = h.getBoundingClientRect().bottom;
    if (r.top < bottom) window.scrollBy(0, r.top - bottom - 8);
  });
}

main();

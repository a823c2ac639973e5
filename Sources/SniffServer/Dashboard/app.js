// The dashboard: live header, traffic chart, summary, packets (virtualised), flows,
// talkers, alerts, filters in the URL, downloads and capture control.
// Every string that comes from a packet is set with textContent, never innerHTML.

import { getJSON, post, withToken, LiveSocket } from "/ui/api.js";
import { drawStacked, drawBars, human, rate } from "/ui/chart.js";
import { loadHostNames, addressCell, countryCell, setUpHostPage } from "/ui/hosts.js";
import { loadNetworkShares, clearNetworkShares } from "/ui/geo.js";
import { loadProcesses, clearProcesses, processCell } from "/ui/procs.js";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 10000;
const ROW_H = 24;

const state = {
  filter: {},          // API parameter names → values
  rows: [],            // packets, newest first
  cursor: null,
  livePaused: false,
  selected: -1,
  liveStats: [],       // last 300 stats messages
  skipped: 0,
  live: false,         // a capture in this process feeds /ws/live
  liveCapture: false,  // ... from an interface: the chart follows the wall clock
  span: null,          // { first, last } epoch seconds of the packets (capture time)
  capture: "",         // the capture's state as the server reports it
  liveCaptureId: "",   // the id of the capture running in this process, if any
  captureControl: false,
};

// ---------- filters and the URL ----------

const FILTER_NAMES = ["ip", "port", "transport", "app", "from", "to", "capture"];

// The From/To fields are plain text in the chosen zone, "YYYY-MM-DD HH:MM:SS" on a
// 24-hour clock, one Tab stop each; RFC 3339 and epoch seconds are accepted too. The
// filter and the URL keep RFC 3339 in UTC.
const FIELD_TIME = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?$/;
function parseTimeField(text) {
  const v = text.trim();
  if (!v) return { value: "" };
  let t = null;
  const m = FIELD_TIME.exec(v);
  if (/^\d+(\.\d+)?$/.test(v)) t = parseFloat(v) * 1000;
  else if (m) {
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((x) => Number(x || 0));
    const ms = m[7] ? Math.round(parseFloat(m[7]) * 1000) : 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return { error: "no such date or time" };
    t = state.tz === "utc" ? Date.UTC(y, mo - 1, d, h, mi, sec, ms) : new Date(y, mo - 1, d, h, mi, sec, ms).getTime();
  } else if (/[zZ]$|[+-]\d\d:?\d\d$/.test(v)) t = Date.parse(v);
  if (t === null || isNaN(t)) return { error: "expected a time as YYYY-MM-DD HH:MM:SS (" + tzName() + ")" };
  return { value: new Date(t).toISOString() };
}
// An API time → the field's text in the chosen zone; what cannot be read stays as
// given, so that a bad value in the URL shows in its field with its error.
function formatTimeField(v) {
  if (!v) return "";
  const t = /^\d+(\.\d+)?$/.test(v) ? parseFloat(v) : Date.parse(v) / 1000;
  return isNaN(t) ? v : fmtTime(t).slice(0, 19);
}

function readFilterFromURL() {
  const p = new URLSearchParams(location.search);
  const f = {};
  for (const k of FILTER_NAMES) if (p.get(k)) f[k] = p.get(k);
  return f;
}

function writeFilterToForm(f) {
  $("f-ip").value = f.ip || ""; $("f-port").value = f.port || "";
  $("f-transport").value = f.transport || ""; $("f-app").value = f.app || "";
  $("f-from").value = formatTimeField(f.from); $("f-to").value = formatTimeField(f.to);
  captureOption(f.capture);
  $("f-capture").value = f.capture || "";
}

// The form's filter, or the first problem the page can see itself (at its field).
function readFilterFromForm() {
  const f = {};
  const ip = $("f-ip").value.trim(), port = $("f-port").value.trim(), app = $("f-app").value.trim();
  if (ip) f.ip = ip;
  if (port) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) return { error: fieldError("port", "a port is a number from 0 to 65535") };
    f.port = port;
  }
  if ($("f-transport").value) f.transport = $("f-transport").value;
  if (app) f.app = app;
  if ($("f-capture").value) f.capture = $("f-capture").value;
  for (const k of ["from", "to"]) {
    const r = parseTimeField($("f-" + k).value);
    if (r.error) return { error: fieldError(k, r.error) };
    if (r.value) f[k] = r.value;
  }
  if (f.from && f.to && Date.parse(f.from) >= Date.parse(f.to)) return { error: fieldError("to", "To must be after From") };
  return { filter: f };
}
function fieldError(parameter, message) { return { parameter, message }; }

function syncURL() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) p.set(k, v);
  history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p : ""));
}

function rangeOnly(f) {
  const r = {};
  if (f.from) r.from = f.from;
  if (f.to) r.to = f.to;
  if (f.capture) r.capture = f.capture;
  return r;
}

// Which filters each figure honours. The chart's per-second totals keep transport and
// app but no addresses or ports; the summary and talkers take every filter (an address
// or port makes the summary count flows); the header's rates, drops and active flows
// are the live capture's, and its Stored count follows only the capture.
const SCOPE_NAMES = { ip: "IP", port: "port", transport: "transport", app: "app", from: "time", to: "time", capture: "capture" };
function pick(f, names) {
  const r = {};
  for (const k of names) if (f[k]) r[k] = f[k];
  return r;
}
function notFilteredBy(honoured) {
  const names = Object.keys(state.filter).filter((k) => !honoured.includes(k)).map((k) => SCOPE_NAMES[k] || k);
  return [...new Set(names)];
}
// The label beside a panel's title (a status region: screen readers announce it), and
// the same list in data-unfiltered for scripts and tests.
function setScope(id, unfiltered, why) {
  const el = $(id);
  el.dataset.unfiltered = unfiltered.join(",");
  el.textContent = unfiltered.length ? "not filtered by " + unfiltered.join(", ") + (why ? ": " + why : "") : "";
}
const CHART_FILTERS = ["from", "to", "capture", "transport", "app"];
const FLOW_FILTERS = ["ip", "port", "transport", "app", "from", "to", "capture"];

// The From/To fields offer the packets' span (capture time) as their placeholders and
// in the hint under the form.
function setTimeBounds() {
  for (const k of ["from", "to"]) $("f-" + k + "-zone").textContent = "(" + tzName() + ")";
  if (!state.span) return;
  const first = fmtTime(Math.floor(state.span.first)).slice(0, 19), last = fmtTime(Math.ceil(state.span.last)).slice(0, 19);
  $("f-from").placeholder = first; $("f-to").placeholder = last;
  $("f-from").dataset.min = first; $("f-to").dataset.max = last;
  $("f-span").textContent = "Packets from " + first + " to " + last + " (" + tzName() + ").";
}

// ---------- errors ----------

const FIELDS = ["ip", "port", "transport", "app", "from", "to", "capture"];
// An error about one parameter shows at its field (aria-invalid, described by the
// message); any other under the form. Results of the previous filter are cleared, so
// that an error never sits above figures that do not answer the question.
function showError(e) {
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
function setUnreachable(on) {
  document.body.dataset.unreachable = String(on);
  $("unreachable").hidden = !on;
  if (on && !unreachableTimer) {
    unreachableTimer = setInterval(async () => {
      try {
        await loadStats();
        clearInterval(unreachableTimer); unreachableTimer = null;
        setUnreachable(false);
        applyFilter();
      } catch { /* still unreachable */ }
    }, 2000);
  }
}

// ---------- cells ----------

function td(text, cls) {
  const c = document.createElement("td");
  c.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) c.className = cls;
  return c;
}
// Times show in UTC or in the browser's time zone, as the header's "Times" choice says
// (kept in localStorage); every place that shows a time names the zone.
state.tz = localStorage.getItem("sniff-tz") === "local" ? "local" : "utc";
function tzName() {
  if (state.tz === "utc") return "UTC";
  const off = -new Date().getTimezoneOffset();
  const a = Math.abs(off);
  return "local, UTC" + (off < 0 ? "−" : "+") + String(Math.floor(a / 60)).padStart(2, "0") + ":" +
    String(a % 60).padStart(2, "0");
}
const pad = (n, w = 2) => String(n).padStart(w, "0");
// "2026-12-05 00:14:25.123456" in the chosen zone (24-hour clock, microseconds).
function fmtTime(ts) {
  if (ts === undefined || ts === null || ts === "") return "";
  ts = Number(ts);
  const whole = Math.floor(ts);
  const d = new Date(whole * 1000);
  const us = pad(Math.min(999999, Math.round((ts - whole) * 1e6)), 6);
  const u = state.tz === "utc";
  const date = (u ? d.getUTCFullYear() : d.getFullYear()) + "-" + pad((u ? d.getUTCMonth() : d.getMonth()) + 1) + "-" +
    pad(u ? d.getUTCDate() : d.getDate());
  const time = pad(u ? d.getUTCHours() : d.getHours()) + ":" + pad(u ? d.getUTCMinutes() : d.getMinutes()) + ":" +
    pad(u ? d.getUTCSeconds() : d.getSeconds());
  return date + " " + time + "." + us;
}
function chartTime(t) { return fmtTime(t).slice(11, 19); }
// One spelling per protocol everywhere (the API has "tcp" in flows, "TCP" in packets).
const PROTO = { tcp: "TCP", udp: "UDP", icmp: "ICMP", icmpv6: "ICMPv6", arp: "ARP", gre: "GRE", other: "other", none: "none" };
function protoLabel(p, address) {
  if (p === undefined || p === null) return "";
  const l = PROTO[String(p).toLowerCase()] || String(p);
  // Flows name ICMPv6 "icmp" (Zeek's conn.log does): an IPv6 address tells them apart.
  return l === "ICMP" && address && String(address).includes(":") ? "ICMPv6" : l;
}
// Packets carry `info` (the server renders Wireshark's Info column); flows the names.
function info(p) { return p.info || p.dns_query || p.tls_sni || p.http_host || ""; }
// A flow carried in a tunnel says so first in its Info cell ("in vxlan 42 · ..."); its
// details list the tunnel, its id and the outer flows that carried it (tunnel_parents).
function flowInfo(r) {
  if (!r.tunnel) return info(r);
  const t = "in " + r.tunnel + (r.tunnel_id !== undefined ? " " + r.tunnel_id : "");
  return info(r) ? t + " · " + info(r) : t;
}

// ---------- packets table (virtualised) ----------

const scroller = $("p-scroll");
const tbody = document.querySelector("#packets tbody");

function renderPackets() {
  const total = state.rows.length;
  const view = scroller.clientHeight || 420;
  const start = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - 5);
  const end = Math.min(total, start + Math.ceil(view / ROW_H) + 15);
  const frag = document.createDocumentFragment();
  const top = document.createElement("tr"); top.style.height = start * ROW_H + "px"; top.className = "spacer";
  frag.appendChild(top);
  for (let i = start; i < end; i++) {
    const p = state.rows[i];
    const tr = document.createElement("tr");
    tr.dataset.index = String(i);
    if (i === state.selected) tr.className = "sel";
    // Without IP (ARP and other link-layer frames) the MAC addresses are the ends.
    tr.append(td(fmtTime(p.ts)), td(p.src || p.eth_src), td(p.sport), td(p.dst || p.eth_dst), td(p.dport),
      td(protoLabel(p.transport)), td(p.app),
      td(p.len, "num"), td(p.flags), td(p.seq, "num"), td(p.ack, "num"), td(p.window, "num"), td(info(p)));
    frag.appendChild(tr);
  }
  const bottom = document.createElement("tr"); bottom.style.height = Math.max(0, (total - end) * ROW_H) + "px"; bottom.className = "spacer";
  frag.appendChild(bottom);
  tbody.replaceChildren(frag);
  $("p-count").textContent = total + " rows" + (total >= MAX_ROWS ? " (newest " + MAX_ROWS + " kept)" : "");
}
scroller.addEventListener("scroll", () => requestAnimationFrame(renderPackets));
tbody.addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-index]");
  if (tr) select(Number(tr.dataset.index), true);
});

function select(i, open) {
  if (i < 0 || i >= state.rows.length) return;
  state.selected = i;
  const top = i * ROW_H;
  if (top < scroller.scrollTop) scroller.scrollTop = top;
  else if (top + ROW_H > scroller.scrollTop + scroller.clientHeight - ROW_H) scroller.scrollTop = top - scroller.clientHeight + 2 * ROW_H;
  renderPackets();
  if (open) showDetail(state.rows[i]);
}

// Packet details in a modal dialog: it holds a copy of the packet, so live rows
// arriving underneath do not change it; Tab stays inside, Escape closes it and focus
// returns to the packets table.
const DETAIL_ORDER = ["n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip", "src", "sport", "dst", "dport",
  "proto", "transport", "flags", "tcp_flags", "seq", "ack", "window", "payload_len", "icmp_type", "icmp_code", "app", "app_source",
  "dns_query", "info", "flow_uid", "sensor", "capture"];
// A flow (a click in Flows) shows the same way, its TLS/QUIC handshake included, titled
// `title`.
function showDetail(p, title) {
  const body = $("detail-body");
  const row = (k, v) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = k; th.scope = "row";
    tr.append(th, td(typeof v === "object" ? JSON.stringify(v) : v));
    return tr;
  };
  const keys = Object.keys(p).sort((a, b) => {
    const i = DETAIL_ORDER.indexOf(a), j = DETAIL_ORDER.indexOf(b);
    return (i < 0 ? 99 : i) - (j < 0 ? 99 : j);
  });
  const saved = state.tz;
  state.tz = "utc"; const utc = fmtTime(p.ts);
  state.tz = "local"; const local = fmtTime(p.ts), localName = tzName();
  state.tz = saved;
  body.replaceChildren(row("time (UTC)", utc), row("time (" + localName + ")", local),
    ...keys.map((k) => row(k === "ts" ? "ts (epoch seconds)" : k, p[k])));
  $("detail-logs").replaceChildren();
  delete $("detail-logs").dataset.uid;
  $("detail-h").textContent = title || "Packet " + (p.n !== undefined ? p.n : "");
  $("detail").dataset.packet = title ? "" : String(p.capture) + ":" + String(p.n);
  if (!$("detail").open) $("detail").showModal();
  $("detail-close").focus();
}
$("detail-close").addEventListener("click", () => $("detail").close());

// A flow's protocol log records (/api/dns, /api/http, /api/tls) below its fields, one
// small table per record. Values from packets go in as text only (td, textContent).
const LOG_TITLES = { dns: "DNS (dns.log)", http: "HTTP (http.log)", tls: "TLS/QUIC (ssl.log)" };
const LOG_HIDDEN = ["uid", "orig_h", "orig_p", "resp_h", "resp_p", "sensor", "capture"];
async function showFlowLogs(uid) {
  const box = $("detail-logs");
  box.dataset.uid = uid;
  const pages = await Promise.all(Object.keys(LOG_TITLES).map((k) =>
    getJSON("/api/" + k, { flow: uid, limit: 50 }).then((p) => [k, p.rows])));
  // Another row opened meanwhile.
  if (box.dataset.uid !== uid) return;
  const parts = [];
  for (const [k, rows] of pages) {
    if (!rows.length) continue;
    const h = document.createElement("h3");
    h.textContent = LOG_TITLES[k] + " · " + rows.length + (rows.length === 50 ? " (first 50)" : "");
    parts.push(h);
    for (const r of rows) {
      const body = document.createElement("tbody");
      for (const [key, v] of Object.entries(r)) {
        if (v === null || LOG_HIDDEN.includes(key)) continue;
        const tr = document.createElement("tr");
        const th = document.createElement("th"); th.scope = "row"; th.textContent = key;
        // ts and the certificate's validity are epoch seconds.
        tr.append(th, td(key === "ts" || key.startsWith("cert_not_valid_") ? fmtTime(v) : Array.isArray(v) ? v.join(", ") : v));
        body.append(tr);
      }
      const t = document.createElement("table");
      t.className = "grid"; t.dataset.log = k;
      t.append(body);
      parts.push(t);
    }
  }
  box.replaceChildren(...parts);
}
setUpHostPage();

// Modal dialogs keep Tab and Shift-Tab among their own controls (the browser would
// otherwise let focus leave for its own toolbar).
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
$("detail").addEventListener("close", () => scroller.focus());

scroller.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown" || e.key === "j") { select(Math.max(0, state.selected + 1), false); e.preventDefault(); }
  else if (e.key === "ArrowUp" || e.key === "k") { select(Math.max(0, state.selected - 1), false); e.preventDefault(); }
  else if (e.key === "PageDown") { select(Math.min(state.rows.length - 1, state.selected + 15), false); e.preventDefault(); }
  else if (e.key === "PageUp") { select(Math.max(0, state.selected - 15), false); e.preventDefault(); }
  else if (e.key === "Home") { select(0, false); e.preventDefault(); }
  else if (e.key === "Enter") { select(Math.max(0, state.selected), true); e.preventDefault(); }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && document.activeElement.tagName !== "INPUT") { $("f-ip").focus(); e.preventDefault(); }
});

async function loadPackets(more) {
  const q = { ...state.filter, limit: 500 };
  if (more && state.cursor) q.cursor = state.cursor;
  const page = await getJSON("/api/packets", q);
  state.rows = more ? state.rows.concat(page.rows) : page.rows;
  state.rows.length = Math.min(state.rows.length, MAX_ROWS);
  state.cursor = page.next_cursor;
  $("p-more").disabled = !state.cursor;
  renderPackets();
}
$("p-more").addEventListener("click", () => loadPackets(true).catch(showError));
$("p-pause").addEventListener("click", () => {
  state.livePaused = !state.livePaused;
  $("p-pause").setAttribute("aria-pressed", String(state.livePaused));
  $("p-pause").textContent = state.livePaused ? "Resume live rows" : "Pause live rows";
});

function addLiveRows(rows) {
  // One capture chosen: live rows of another (the one running here) stay out.
  if (state.filter.capture) rows = rows.filter((r) => String(r.capture) === state.filter.capture);
  if (state.livePaused || state.filter.to || rows.length === 0) return;
  state.rows = rows.concat(state.rows);
  if (state.rows.length > MAX_ROWS) state.rows.length = MAX_ROWS;
  // Rows come in at the top: a reader who selected a row or scrolled down keeps the
  // same rows in view (the selection moves with its packet), others see the newest.
  if (state.selected >= 0) state.selected += rows.length;
  if (state.selected >= MAX_ROWS) state.selected = -1;
  if (state.selected >= 0 || scroller.scrollTop > 0) scroller.scrollTop += rows.length * ROW_H;
  renderPackets();
}

// ---------- downloads ----------

function updateDownloads() {
  const all = $("d-all").checked;
  for (const fmt of ["xlsx", "csv", "ndjson", "pcap"]) {
    const q = new URLSearchParams(all ? {} : state.filter);
    q.set("format", fmt);
    const a = $("d-" + fmt);
    a.href = withToken("/api/export?" + q);
    a.setAttribute("download", "sniff-packets." + fmt);
  }
}
$("d-all").addEventListener("change", updateDownloads);

// pcap needs the packets' bytes (--store-raw): the link asks first (HEAD), and when the
// server refuses, its explanation shows beside the link instead of a failed download.
$("d-pcap").addEventListener("click", async (e) => {
  e.preventDefault();
  const a = $("d-pcap"), msg = $("d-pcap-error");
  msg.textContent = "";
  try {
    const head = await fetch(a.href, { method: "HEAD" });
    if (head.ok) {
      const go = document.createElement("a");
      go.href = a.href; go.download = "sniff-packets.pcap"; go.hidden = true;
      document.body.append(go); go.click(); go.remove();
      return;
    }
    let text = "pcap download refused (HTTP " + head.status + ")";
    try { const r = await fetch(a.href); const b = await r.json(); if (b && b.error) text = b.error; } catch { /* keep the status */ }
    msg.textContent = text;
  } catch {
    msg.textContent = "server unreachable: the pcap could not be fetched";
  }
});

// ---------- summary, talkers, flows, alerts ----------

// Transports and apps are two views of the same packets: each has its own chart, so
// that no packet is counted twice in one ranking.
async function loadSummary() {
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

async function loadTalkers() {
  const t = await getJSON("/api/talkers", { ...pick(state.filter, FLOW_FILTERS), limit: 15 });
  document.querySelector("#talkers tbody").replaceChildren(...t.pairs.map((p) => {
    const tr = document.createElement("tr");
    // ICMP has no ports: the store keeps its type (and code) in the port fields, as
    // Zeek does; the table says so rather than calling them a port.
    const icmp = String(p.proto).toLowerCase().startsWith("icmp");
    const port = td(icmp ? "–" : p.port);
    if (icmp) port.title = "ICMP has no ports (type or code " + p.port + ")";
    tr.append(addressCell(p.address), port, td(protoLabel(p.proto, p.address)), td(p.packets, "num"), td(human(p.bytes), "num"), td(p.flows, "num"));
    return tr;
  }));
  document.querySelector("#hosts tbody").replaceChildren(...t.hosts.map((p) => {
    const tr = document.createElement("tr");
    tr.append(addressCell(p.address), td(p.packets, "num"), td(human(p.bytes), "num"), td(p.flows, "num"));
    return tr;
  }));
}

// Stored flows and, beside a capture, the flows still in progress (open_rows), ranked
// together by the chosen key; a flow in progress says so in its State cell.
const FLOW_KEYS = {
  bytes: (r) => (r.orig_l2_bytes || 0) + (r.resp_l2_bytes || 0),
  packets: (r) => (r.orig_pkts || 0) + (r.resp_pkts || 0),
  time: (r) => r.ts,
};
async function loadFlows() {
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
$("flows-sort").addEventListener("change", () => loadFlows().catch(showError));
$("flows-tunnel").addEventListener("change", () => loadFlows().catch(showError));

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
// Processes answer the time and capture range only (a flow filter would need each
// process's flows counted again).
async function loadProcessPanel() {
  setScope("procs-scope", notFilteredBy(["from", "to", "capture"]));
  await loadProcesses(rangeOnly(state.filter));
}
async function loadAlerts() {
  const a = await getJSON("/api/alerts", { ...rangeOnly(state.filter), limit: 100 });
  setScope("alerts-scope", notFilteredBy(["from", "to", "capture"]), "alerts are kept per rule, not per packet");
  $("alerts").replaceChildren(...a.rows.map(alertItem));
}

// ---------- captures ----------

// The captures in the database, newest first, offered in the Capture field; the page
// shows one capture or all of them, and says which under the form.
state.captures = [];
function chosenCapture() {
  return state.filter.capture ? state.captures.find((c) => c.id === state.filter.capture) : undefined;
}
function captureSpan(c) {
  return typeof c.first_packet === "number" && typeof c.last_packet === "number" ? { first: c.first_packet, last: c.last_packet } : null;
}
function captureText(c) {
  const span = captureSpan(c);
  const when = span ? ", " + fmtTime(span.first).slice(0, 19) + " to " + fmtTime(span.last).slice(0, 19) + " " + tzName() : "";
  return "capture " + c.id + ": " + c.source + ", " + c.packets_stored.toLocaleString("en-US") + " packets" + when +
    (c.running ? " (running)" : "");
}
function allText(n) { return "all " + n + " capture" + (n === 1 ? "" : "s"); }
// A capture id from the URL that the list lacks still shows in the field (the server
// then says what is wrong with it).
function captureOption(id) {
  const sel = $("f-capture");
  if (!id || Array.from(sel.options).some((o) => o.value === id)) return;
  const o = document.createElement("option");
  o.value = id; o.textContent = "capture " + id;
  sel.append(o);
}
async function loadCaptures() {
  const c = await getJSON("/api/captures", { limit: 1000 });
  state.captures = c.rows;
  const sel = $("f-capture");
  const want = [["", allText(c.rows.length)], ...c.rows.map((r) => [r.id, captureText(r)])];
  // The same captures keep their option elements (a running one's count is updated in
  // place): a refresh every few seconds must not take the list from under a user (or a
  // test) choosing in it.
  const same = sel.options.length === want.length && want.every(([value], i) => sel.options[i].value === value);
  if (same) {
    want.forEach(([, text], i) => { if (sel.options[i].textContent !== text) sel.options[i].textContent = text; });
  } else {
    sel.replaceChildren(...want.map(([value, text]) => {
      const o = document.createElement("option");
      o.value = value; o.textContent = text;
      return o;
    }));
  }
  captureOption(state.filter.capture);
  sel.value = state.filter.capture || "";
  const chosen = chosenCapture();
  $("capture-label").textContent = "Showing " + (chosen ? captureText(chosen) : state.filter.capture
    ? "capture " + state.filter.capture + ", which this database does not hold" : allText(c.rows.length)) + "." +
    (otherCapture() ? " It is stored, not the capture running here (capture " + state.liveCaptureId + "): no live rows " +
      "or alerts, its chart in capture time; the header's rates are capture " + state.liveCaptureId + "'s." : "");
  $("capture-label").dataset.live = otherCapture() ? "other" : state.liveCaptureId ? "running" : "";
}
// Beside a running capture, one other (stored) capture chosen: the live stream sends
// none of its rows (there are none), and the live chart would be another capture's.
function otherCapture() {
  return Boolean(state.live && state.liveCaptureId && state.filter.capture && state.filter.capture !== state.liveCaptureId);
}

// ---------- chart ----------

// metric "packets" (packets/s) or "bits" (bits/s, from the counters' bytes).
const UNIT = { packets: "pkt/s", bits: "bit/s" };
function valueOf(counter, metric) {
  if (!counter) return 0;
  return metric === "bits" ? (counter.bytes || 0) * 8 : counter.packets || 0;
}
function seriesFromStats(stats, by, metric) {
  const times = stats.map((s) => s.ts);
  const keys = [...new Set(stats.flatMap((s) => Object.keys(s[by] || {})))].sort();
  const values = {};
  for (const k of keys) values[k] = stats.map((s) => valueOf((s[by] || {})[k], metric));
  return { times, keys, values };
}

// Seconds since the epoch of an API time (RFC 3339 or epoch seconds).
function epochOf(v) { return /^\d+(\.\d+)?$/.test(v) ? parseFloat(v) : Date.parse(v) / 1000; }
function isoOf(t) { return new Date(t * 1000).toISOString(); }

// What the chart shows, as text beside it and as data attributes: its first and last
// bucket (epoch seconds), the bucket size and the axis labels.
function describeChart(times, step, mode, labels, series, metric) {
  const c = $("chart");
  const n = times.length;
  c.dataset.mode = mode;
  c.dataset.step = String(step);
  c.dataset.from = n ? String(times[0]) : "";
  c.dataset.to = n ? String(times[n - 1]) : "";
  c.dataset.labels = JSON.stringify(labels || []);
  const when = (t) => fmtTime(t).slice(0, 19);
  const size = step >= 3600 ? step / 3600 + " h" : step >= 60 ? step / 60 + " min" : step + " s";
  const text = n === 0 ? "No traffic in this range."
    : `${when(times[0])} to ${when(times[n - 1])} ${tzName()}, ${size} buckets of ${UNIT[metric]}, ` +
      (mode === "live" ? "last 5 minutes (wall clock)." : "capture time.");
  $("chart-axis").textContent = text;
  c.setAttribute("aria-label", "Traffic chart: " + text + " The data is in the table below the chart.");
  state.chartData = { series, step, metric };
  if ($("chart-table-wrap").open) renderChartTable();
}

// The chart's text alternative: its data as a table (time, one column per series,
// total), drawn when the disclosure is open.
function renderChartTable() {
  const d = state.chartData;
  if (!d || !d.series) return;
  const { times, keys, values } = d.series;
  const unit = UNIT[d.metric];
  const head = document.createElement("tr");
  const th = (t, cls) => { const e = document.createElement("th"); e.textContent = t; e.scope = "col"; if (cls) e.className = cls; return e; };
  head.append(th("Time (" + tzName() + ")"), ...keys.map((k) => th(k + " (" + unit + ")", "num")), th("Total (" + unit + ")", "num"));
  const rows = times.map((t, i) => {
    const tr = document.createElement("tr");
    tr.dataset.ts = String(t);
    let total = 0;
    const cells = keys.map((k) => { total += values[k][i]; return td(fmtRate(values[k][i]), "num"); });
    tr.append(td(fmtTime(t).slice(0, 19)), ...cells, td(fmtRate(total), "num"));
    tr.lastChild.dataset.value = String(total);
    return tr;
  });
  $("chart-table").querySelector("thead").replaceChildren(head);
  $("chart-table").querySelector("tbody").replaceChildren(...rows.reverse());
}
function fmtRate(v) { return Number.isInteger(v) ? String(v) : v.toFixed(2); }
$("chart-table-wrap").addEventListener("toggle", renderChartTable);

// The span of the stored packets when no capture runs here: every capture's first and
// last packet.
async function loadSpan() {
  if (state.span || state.live) return;
  const c = await getJSON("/api/captures", { limit: 1000 });
  const firsts = c.rows.map((r) => r.first_packet).filter((x) => typeof x === "number");
  const lasts = c.rows.map((r) => r.last_packet).filter((x) => typeof x === "number");
  if (firsts.length) state.span = { first: Math.min(...firsts), last: Math.max(...lasts) };
  setTimeBounds();
}

async function drawChart() {
  const by = $("chart-by").value, metric = $("chart-metric").value;
  if ($("chart-range").value === "live" && state.live && !otherCapture()) {
    setScope("chart-scope", notFilteredBy([]), "the live stream's per-second totals are the whole capture's");
    const series = seriesFromStats(state.liveStats, by, metric);
    describeChart(series.times, 1, "live", drawStacked($("chart"), series, $("chart-legend"), UNIT[metric], chartTime), series, metric);
    return;
  }
  // Capture time: the filter's range, else the packets' own first-to-last span, in
  // buckets that give up to ~1500 points (1 s to 15 min, 1 min to a day, then 1 h).
  await loadSpan();
  setScope("chart-scope", notFilteredBy(CHART_FILTERS), "the per-second totals keep no addresses or ports");
  const r = rangeOnly(state.filter);
  const span = chosenCapture() ? captureSpan(chosenCapture()) || state.span : state.span;
  const from = r.from ? epochOf(r.from) : span ? span.first : null;
  const to = r.to ? epochOf(r.to) : span ? span.last : null;
  let step = "1m";
  if (from !== null && to !== null) {
    const span = to - from;
    step = span <= 900 ? "1s" : span <= 86400 ? "1m" : "1h";
  }
  const div = step === "1s" ? 1 : step === "1m" ? 60 : 3600;
  const q = { ...pick(state.filter, CHART_FILTERS), step, by };
  if (from !== null && !q.from) q.from = isoOf(Math.floor(from / div) * div);
  if (to !== null && !q.to) q.to = isoOf(to + div);
  const t = await getJSON("/api/timeseries", q);
  let times = [...new Set(t.points.map((p) => p.ts))].sort((a, b) => a - b);
  if (from !== null && to !== null) {
    // Every bucket of the span, empty ones too, so that the x axis is linear in time.
    const first = Math.floor(from / div) * div, count = Math.floor(to / div) - Math.floor(from / div) + 1;
    if (count > 0 && count <= 5000) times = Array.from({ length: count }, (_, i) => first + i * div);
  }
  const index = new Map(times.map((x, i) => [x, i]));
  const keys = [...new Set(t.points.map((p) => p.key))].sort();
  const values = {};
  for (const k of keys) values[k] = new Array(times.length).fill(0);
  for (const p of t.points) {
    const i = index.get(p.ts);
    if (i !== undefined) values[p.key][i] += valueOf(p, metric) / div;
  }
  const series = { times, keys, values };
  describeChart(times, div, "capture", drawStacked($("chart"), series, $("chart-legend"), UNIT[metric], chartTime), series, metric);
}
for (const id of ["chart-by", "chart-metric", "chart-range"]) $(id).addEventListener("change", () => drawChart().catch(showError));
window.addEventListener("resize", () => { drawChart().catch(() => {}); renderPackets(); });

// ---------- header ----------

let statsLoadedOnce = false;
async function loadStats() {
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
function showRates(m) {
  const pps = $("h-pps"), bps = $("h-bps");
  pps.textContent = m.packets.toLocaleString("en-US") + " pkt/s";
  bps.textContent = rate(m.bytes * 8, "bit/s");
  pps.title = "second " + fmtTime(m.ts).slice(0, 19) + " " + tzName();
  bps.title = (m.bytes * 8).toLocaleString("en-US") + " bit/s";
  for (const e of [pps, bps]) { e.dataset.ts = String(m.ts); }
  pps.dataset.value = String(m.packets); bps.dataset.value = String(m.bytes * 8);
}

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
setInterval(() => {
  if (!state.live) return;
  const running = ["running", "paused", "stopping"].includes(state.capture);
  if (running) finalRounds = 2;
  else if (finalRounds > 0) finalRounds--;
  else return;
  refreshPanels();
}, 1000);

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
    $("alerts").prepend(alertItem(m.alert));
  } else if (m.type === "filter") {
    // Whether the chosen capture's rows stream here (false: a stored capture chosen).
    document.body.dataset.streaming = String(m.streaming);
  } else if (m.type === "error") {
    showError(m);
  }
}

let socketWasDown = false;
const socket = new LiveSocket(onLive, (s, delay) => {
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

// ---------- capture control ----------

// The buttons follow the capture's real state (from /api/stats, the live stream and the
// answers to the buttons): Pause only while running, Resume only while paused, none
// once stopping or stopped, or when this server runs no live capture.
function showState(s) {
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

// ---------- apply ----------

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
function showTimeLabels() {
  const z = tzName();
  for (const el of document.querySelectorAll(".tz-name")) el.textContent = z;
  setTimeBounds();
}
showTimeLabels();

state.filter = readFilterFromURL();
writeFilterToForm(state.filter);
loadStats().catch(showError).finally(applyFilter);
setInterval(() => loadStats().catch((e) => { if (e.unreachable) setUnreachable(true); }), 5000);
// Where the sticky header ends, so that a focused control scrolled into view is not
// hidden under it.
function headerOffset() {
  const h = $("top");
  const sticky = getComputedStyle(h).position === "sticky";
  document.documentElement.style.scrollPaddingTop = sticky ? h.offsetHeight + 8 + "px" : "0px";
}
headerOffset();
window.addEventListener("resize", headerOffset);
// A focused element under the sticky header (Shift-Tab upwards) is scrolled clear of it.
document.addEventListener("focusin", (e) => {
  const h = $("top");
  if (getComputedStyle(h).position !== "sticky" || h.contains(e.target) || e.target === document.body) return;
  const r = e.target.getBoundingClientRect(), bottom = h.getBoundingClientRect().bottom;
  if (r.top < bottom) window.scrollBy(0, r.top - bottom - 8);
});

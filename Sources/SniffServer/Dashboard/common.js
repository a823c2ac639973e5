// What every panel of the dashboard shares: the page's state, element lookup, table
// cells, times in the chosen zone, protocol labels and which filters a figure honours.
// Every string that comes from a packet is set with textContent, never innerHTML.

export const $ = (id) => document.getElementById(id);

export const state = {
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
  tz: "utc",           // "utc" or "local": how every time on the page shows
  captures: [],        // /api/captures' rows, newest first
  chartData: null,     // what the chart drew, for its table
  rangeForced: false,  // the chart left "live" because a stored capture was chosen
};

export function rangeOnly(f) {
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
export function pick(f, names) {
  const r = {};
  for (const k of names) if (f[k]) r[k] = f[k];
  return r;
}
export function notFilteredBy(honoured) {
  const names = Object.keys(state.filter).filter((k) => !honoured.includes(k)).map((k) => SCOPE_NAMES[k] || k);
  return [...new Set(names)];
}
// The label beside a panel's title (a status region: screen readers announce it), and
// the same list in data-unfiltered for scripts and tests.
export function setScope(id, unfiltered, why) {
  const el = $(id);
  el.dataset.unfiltered = unfiltered.join(",");
  el.textContent = unfiltered.length ? "not filtered by " + unfiltered.join(", ") + (why ? ": " + why : "") : "";
}
export const CHART_FILTERS = ["from", "to", "capture", "transport", "app"];
export const FLOW_FILTERS = ["ip", "port", "transport", "app", "from", "to", "capture"];

export function td(text, cls) {
  const c = document.createElement("td");
  c.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) c.className = cls;
  return c;
}
// Times show in UTC or in the browser's time zone, as the header's "Times" choice says
// (kept in localStorage); every place that shows a time names the zone.
export function tzName() {
  if (state.tz === "utc") return "UTC";
  const off = -new Date().getTimezoneOffset();
  const a = Math.abs(off);
  return "local, UTC" + (off < 0 ? "−" : "+") + String(Math.floor(a / 60)).padStart(2, "0") + ":" +
    String(a % 60).padStart(2, "0");
}
const pad = (n, w = 2) => String(n).padStart(w, "0");
// "2026-12-05 00:14:25.123456" in the chosen zone (24-hour clock, microseconds).
export function fmtTime(ts) {
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
export function chartTime(t) { return fmtTime(t).slice(11, 19); }
// One spelling per protocol everywhere (the API has "tcp" in flows, "TCP" in packets).
const PROTO = { tcp: "TCP", udp: "UDP", icmp: "ICMP", icmpv6: "ICMPv6", arp: "ARP", gre: "GRE", other: "other", none: "none" };
export function protoLabel(p, address) {
  if (p === undefined || p === null) return "";
  const l = PROTO[String(p).toLowerCase()] || String(p);
  // Flows name ICMPv6 "icmp" (Zeek's conn.log does): an IPv6 address tells them apart.
  return l === "ICMP" && address && String(address).includes(":") ? "ICMPv6" : l;
}
// Packets carry `info` (the server renders Wireshark's Info column); flows the names.
export function info(p) { return p.info || p.dns_query || p.tls_sni || p.http_host || ""; }
// A flow carried in a tunnel says so first in its Info cell ("in vxlan 42 · ..."); its
// details list the tunnel, its id and the outer flows that carried it (tunnel_parents).
export function flowInfo(r) {
  if (!r.tunnel) return info(r);
  const t = "in " + r.tunnel + (r.tunnel_id !== undefined ? " " + r.tunnel_id : "");
  return info(r) ? t + " · " + info(r) : t;
}

// Seconds since the epoch of an API time (RFC 3339 or epoch seconds).
export function epochOf(v) { return /^\d+(\.\d+)?$/.test(v) ? parseFloat(v) : Date.parse(v) / 1000; }
export function isoOf(t) { return new Date(t * 1000).toISOString(); }

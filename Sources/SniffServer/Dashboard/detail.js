// The details dialog: a packet's or a flow's fields, and a flow's protocol log records.
// Values from packets go in as text only (td, textContent).
import { $, state, td, tzName, fmtTime } from "/ui/common.js";
import { getJSON } from "/ui/api.js";

// arriving underneath do not change it; Tab stays inside, Escape closes it and focus
// returns to the packets table.
const DETAIL_ORDER = ["n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip", "src", "sport", "dst", "dport",
  "proto", "transport", "flags", "tcp_flags", "seq", "ack", "window", "payload_len", "icmp_type", "icmp_code", "app", "app_source",
  "dns_query", "info", "flow_uid", "sensor", "capture"];
// A flow (a click in Flows) shows the same way, its TLS/QUIC handshake included, titled
// `title`.
export function showDetail(p, title) {
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


// A flow's protocol log records (/api/dns, /api/http, /api/tls) below its fields, one
// small table per record. Values from packets go in as text only (td, textContent).
const LOG_TITLES = { dns: "DNS (dns.log)", http: "HTTP (http.log)", tls: "TLS/QUIC (ssl.log)" };
const LOG_HIDDEN = ["uid", "orig_h", "orig_p", "resp_h", "resp_p", "sensor", "capture"];
export async function showFlowLogs(uid) {
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

export function setUpDetail() {
  $("detail-close").addEventListener("click", () => $("detail").close());
}

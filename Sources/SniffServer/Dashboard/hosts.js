// "Who is that?": names and countries beside addresses, and a host page for any
// address (/api/hosts, /api/hosts/{ip}). Packet-derived text goes in through
// textContent only.
import { getJSON } from "/ui/api.js";
import { human } from "/ui/chart.js";
import { $ } from "/ui/common.js";

// address → { name, country, asn, org, vendor ... }, from the last /api/hosts page.
let known = new Map();

// A country code as its flag: two Unicode regional indicator letters (no images).
export function flag(cc) {
  if (!/^[A-Za-z]{2}$/.test(cc || "")) return "";
  return String.fromCodePoint(...[...cc.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

// Refreshes the names and countries of the addresses the database knows (in the
// filter's capture and time range).
export async function loadHostNames(filter) {
  const q = { limit: 1000 };
  for (const k of ["capture", "from", "to"]) if (filter[k]) q[k] = filter[k];
  const page = await getJSON("/api/hosts", q);
  known = new Map(page.rows.map((h) => [h.address, h]));
}

export function hostOf(address) { return known.get(address); }

// A table cell for an address: its name (and flag) when known, the address on hover
// (title) and in data-address; a click opens its host page.
export function addressCell(address) {
  const c = document.createElement("td");
  const a = String(address === undefined || address === null ? "" : address);
  const h = known.get(a);
  const label = h && h.name ? h.name : a;
  c.textContent = (h && h.country ? flag(h.country) + " " : "") + label;
  c.title = (h && h.name ? a + " (" + h.name + ")" : a) + (h && h.vendor ? " · " + h.vendor : "");
  c.dataset.address = a;
  c.className = "addr";
  if (a) {
    c.tabIndex = 0;
    const open = (e) => { e.stopPropagation(); showHost(a); };
    c.addEventListener("click", open);
    c.addEventListener("keydown", (e) => { if (e.key === "Enter") open(e); });
  }
  return c;
}

// A table cell for a country code, with its flag.
export function countryCell(cc) {
  const c = document.createElement("td");
  c.textContent = cc ? flag(cc) + " " + cc : "";
  return c;
}

function row(k, v) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.textContent = k;
  const td = document.createElement("td");
  td.textContent = v === undefined || v === null ? "" : String(v);
  tr.append(th, td);
  return tr;
}

function list(items, text) {
  const ul = document.createElement("ul");
  ul.replaceChildren(...items.map((x) => {
    const li = document.createElement("li");
    li.textContent = text(x);
    return li;
  }));
  return ul;
}

// Where a name came from (the API's names[].source).
const NAME_SOURCES = { dns: "DNS answer", ptr: "reverse lookup" };

// The host page: a dialog with everything /api/hosts/{ip} answers.
export async function showHost(address) {
  const d = await getJSON("/api/hosts/" + encodeURIComponent(address), {});
  const h = d.host || {};
  const names = (h.names || []).map((n) => n.name + " (" + (NAME_SOURCES[n.source] || n.source) + ", first "
    + new Date(n.first_seen * 1000).toISOString() + ", last " + new Date(n.last_seen * 1000).toISOString() + ")");
  $("host-h").textContent = "Host " + address + (h.name ? " · " + h.name : "");
  const body = $("host-body");
  body.replaceChildren(
    row("address", d.address), row("names", names.join("; ") || "none from DNS answers or reverse lookups"),
    row("country", h.country ? flag(h.country) + " " + h.country : ""),
    row("ASN", h.asn !== undefined ? "AS" + h.asn + (h.org ? " " + h.org : "") : ""),
    row("MAC", h.mac ? h.mac + (h.vendor ? " · " + h.vendor : "") : ""),
    row("category", d.category), row("sent", human(d.sent)), row("received", human(d.received)), row("flows", d.flows));
  const peers = $("host-peers");
  peers.replaceChildren(list(d.peers || [], (p) => (p.name ? p.name + " (" + p.address + ")" : p.address)
    + ": " + human(p.bytes) + " in " + p.flows + " flows"));
  $("host-apps").replaceChildren(list(d.apps || [], (a) => a.app + ": " + human(a.bytes) + " in " + a.flows + " flows"));
  $("host-alerts").replaceChildren(list(d.alerts || [], (a) => a.severity + " " + a.rule + ": " + a.message));
  $("host").dataset.address = address;
  if (!$("host").open) $("host").showModal();
  $("host-close").focus();
}

export function setUpHostPage() {
  $("host-close").addEventListener("click", () => $("host").close());
}

// The "countries" and "networks (AS)" panels: the flows' bytes per country and per
// autonomous system of their ends (/api/countries, /api/asns), as bars. Text from the
// databases (organisations) goes in through textContent only.
import { getJSON } from "/ui/api.js";
import { human } from "/ui/chart.js";
import { $, td as cell } from "/ui/common.js";
import { flag } from "/ui/hosts.js";

let regions = null;
try { regions = new Intl.DisplayNames(["en"], { type: "region" }); } catch { regions = null; }

// "NL" as "Netherlands"; the code itself where the browser has no name for it.
export function countryName(cc) {
  try { return (regions && regions.of(cc)) || cc; } catch { return cc; }
}

// Rows with a bar each, its length the row's bytes against the largest row's.
function render(table, rows, label, title) {
  const max = Math.max(1, ...rows.map((r) => r.bytes));
  const total = rows.reduce((n, r) => n + r.bytes, 0);
  $(table).querySelector("tbody").replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    const name = cell(label(r));
    name.title = title(r);
    const bar = document.createElement("td");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = (100 * r.bytes / max).toFixed(1) + "%";
    bar.append(fill);
    bar.title = (100 * r.bytes / Math.max(1, total)).toFixed(1) + "% of the bytes listed";
    bar.dataset.share = String(r.bytes / max);
    tr.append(name, cell(human(r.bytes), "num"), cell(String(r.flows), "num"), bar);
    return tr;
  }));
}

// Both panels, with the talkers' filters (`params`).
export async function loadNetworkShares(params) {
  const [c, a] = await Promise.all([getJSON("/api/countries", { ...params, limit: 10 }),
    getJSON("/api/asns", { ...params, limit: 10 })]);
  render("countries", c.rows, (r) => flag(r.country) + " " + countryName(r.country), (r) => r.country);
  render("asns", a.rows, (r) => "AS" + r.asn + (r.org ? " " + r.org : ""), (r) => "AS" + r.asn + (r.org ? " (" + r.org + ")" : ""));
  const none = "None: no GeoIP database answered for these flows' addresses (private addresses, or no database: " +
    "sniff --geoip PATH, or GeoLite2/DB-IP files in /usr/share/GeoIP).";
  $("countries-note").textContent = c.rows.length ? "" : none;
  $("asns-note").textContent = a.rows.length ? "" : none;
}

export function clearNetworkShares() {
  for (const id of ["countries", "asns"]) $(id).querySelector("tbody").replaceChildren();
  for (const id of ["countries-note", "asns-note"]) $(id).textContent = "";
}

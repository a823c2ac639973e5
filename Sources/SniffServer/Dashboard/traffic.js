// The traffic chart: live (the last 5 minutes of the stream's per-second stats) or the
// stored per-second rollups in capture time, stacked by transport or app, and its table.
import { $, state, td, fmtTime, tzName, chartTime, pick, rangeOnly, setScope, notFilteredBy, epochOf, isoOf,
  CHART_FILTERS } from "/ui/common.js";
import { getJSON } from "/ui/api.js";
import { drawStacked } from "/ui/chart.js";
import { chosenCapture, captureSpan, otherCapture } from "/ui/captures.js";
import { setTimeBounds } from "/ui/filters.js";
import { showError } from "/ui/errors.js";

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

export async function drawChart() {
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

export function setUpTraffic() {
  $("chart-table-wrap").addEventListener("toggle", renderChartTable);
  for (const id of ["chart-by", "chart-metric", "chart-range"]) $(id).addEventListener("change", () => drawChart().catch(showError));
  window.addEventListener("resize", () => drawChart().catch(() => {}));
}

// Stacked area and bar charts on <canvas>, our own code: no library.

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
// One colour per series name, the same in every view (chart, legend, summary bars):
// the transports have their own, other names (apps) a colour from a hash of the name.
const FIXED = { TCP: "#4e79a7", UDP: "#f28e2b", ICMP: "#e15759", ICMPv6: "#76b7b2", ARP: "#59a14f", GRE: "#edc948",
  other: "#9c755f", none: "#bab0ac", unknown: "#bab0ac" };
export function colorFor(key) {
  if (FIXED[key]) return FIXED[key];
  let h = 0;
  for (const ch of String(key)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

function themeColors(canvas) {
  const s = getComputedStyle(canvas);
  return { fg: s.getPropertyValue("--fg") || "#222", line: s.getPropertyValue("--line") || "#ccc", muted: s.getPropertyValue("--muted") || "#666" };
}

function fit(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, w, h };
}

export function human(n) {
  if (!isFinite(n)) return "0";
  const units = ["", "k", "M", "G", "T"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  if (i === 0 && Number.isInteger(n)) return String(n);
  return n.toFixed(Math.abs(n) < 10 ? 1 : 0) + units[i];
}

/// A rate with its unit: "2.00 kpkt/s", "1.60 Mbit/s", "512 bit/s" (SI prefixes, as
/// network engineers read link speeds).
export function rate(n, unit) {
  if (!isFinite(n)) n = 0;
  const prefixes = ["", "k", "M", "G", "T"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < prefixes.length - 1) { n /= 1000; i++; }
  const text = i === 0 ? String(Math.round(n * 10) / 10) : n.toFixed(Math.abs(n) < 10 ? 2 : Math.abs(n) < 100 ? 1 : 0);
  return text + " " + prefixes[i] + unit;
}

/// An axis label: one SI prefix for the whole axis (from its top), and as many
/// decimals as the step needs (ticks are 1, 2 or 5 times a power of ten).
export function tickLabel(v, step, top, unit) {
  const prefixes = ["", "k", "M", "G", "T"];
  let i = 0, scale = 1;
  while (top / scale >= 1000 && i < prefixes.length - 1) { scale *= 1000; i++; }
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / scale) + 1e-9)));
  return (v / scale).toFixed(decimals) + " " + prefixes[i] + unit;
}

/// Round axis ticks from 0: a step of 1, 2 or 5 times a power of ten, about four steps
/// up to `max` or just above.
export function niceTicks(max) {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] };
  const raw = max / 4;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  const top = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  return { top, ticks };
}

/// series: { times: [sec...], keys: [k...], values: { k: [v per time] } }; unit names
/// the y axis ("pkt/s", "bit/s"); fmtTime(t) labels the x axis.
/// Returns the x-axis labels drawn (the first and last bucket's times).
export function drawStacked(canvas, series, legend, unit, fmtTime) {
  const { ctx, w, h } = fit(canvas);
  const c = themeColors(canvas);
  ctx.clearRect(0, 0, w, h);
  const padL = 78, padB = 20, padT = 8, padR = 8;
  const n = series.times.length;
  const totals = new Array(n).fill(0);
  for (const k of series.keys) series.values[k].forEach((v, i) => totals[i] += v);
  const { top, ticks } = niceTicks(Math.max(0, ...totals));
  const x = (i) => padL + (n <= 1 ? 0 : (i / (n - 1)) * (w - padL - padR));
  const y = (v) => h - padB - (v / top) * (h - padB - padT);
  ctx.strokeStyle = c.line; ctx.fillStyle = c.muted; ctx.font = "11px system-ui, sans-serif"; ctx.lineWidth = 1;
  canvas.dataset.ticks = JSON.stringify(ticks);
  canvas.dataset.tickLabels = JSON.stringify(ticks.map((v) => tickLabel(v, ticks[1] - ticks[0], top, unit || "")));
  for (const v of ticks) {
    const yy = y(v);
    ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(w - padR, yy); ctx.stroke();
    const label = tickLabel(v, ticks[1] - ticks[0], top, unit || "");
    ctx.fillText(label, padL - 6 - ctx.measureText(label).width, yy + 4);
  }
  const labels = [];
  if (n > 0) {
    labels.push(fmtTime(series.times[0]), fmtTime(series.times[n - 1]));
    ctx.fillText(labels[0], padL, h - 4);
    ctx.fillText(labels[1], w - padR - ctx.measureText(labels[1]).width, h - 4);
  }
  const base = new Array(n).fill(0);
  if (n <= 120) {
    // Few buckets: stacked columns, so that a single bucket still shows.
    const slot = (w - padL - padR) / Math.max(1, n);
    const bx = (i) => padL + i * slot + slot * 0.1;
    for (const k of series.keys) {
      ctx.fillStyle = colorFor(k);
      series.values[k].forEach((v, i) => {
        const y0 = y(base[i]), y1 = y(base[i] + v);
        ctx.fillRect(bx(i), y1, Math.max(1, slot * 0.8), y0 - y1);
        base[i] += v;
      });
    }
    if (legend) legendOf(series.keys, legend);
    return labels;
  }
  for (const k of series.keys) {
    const vals = series.values[k];
    ctx.beginPath();
    for (let i = 0; i < n; i++) { const yy = y(base[i] + vals[i]); i === 0 ? ctx.moveTo(x(i), yy) : ctx.lineTo(x(i), yy); }
    for (let i = n - 1; i >= 0; i--) ctx.lineTo(x(i), y(base[i]));
    ctx.closePath();
    ctx.fillStyle = colorFor(k);
    ctx.globalAlpha = 0.85; ctx.fill(); ctx.globalAlpha = 1;
    for (let i = 0; i < n; i++) base[i] += vals[i];
  }
  if (legend) legendOf(series.keys, legend);
  return labels;
}

export function legendOf(keys, legend) {
  legend.replaceChildren(...keys.map((k) => {
    const s = document.createElement("span");
    s.style.setProperty("--c", colorFor(k));
    s.textContent = k;
    return s;
  }));
}

/// items: [{ label, value }], largest first; unit follows each value ("pkts").
export function drawBars(canvas, items, unit) {
  const { ctx, w, h } = fit(canvas);
  const c = themeColors(canvas);
  ctx.clearRect(0, 0, w, h);
  const shown = items.slice(0, 8);
  const max = Math.max(1, ...shown.map((i) => i.value));
  const rowH = h / Math.max(1, shown.length);
  ctx.font = "11px system-ui, sans-serif";
  shown.forEach((it, i) => {
    const bw = ((w - 170) * it.value) / max;
    ctx.fillStyle = colorFor(it.label);
    ctx.fillRect(90, i * rowH + 3, Math.max(1, bw), rowH - 6);
    ctx.fillStyle = c.fg;
    ctx.fillText(String(it.label).slice(0, 14), 2, i * rowH + rowH / 2 + 4);
    ctx.fillText(human(it.value) + (unit ? " " + unit : ""), 94 + bw, i * rowH + rowH / 2 + 4);
  });
}

// Stacked area and bar charts on <canvas>, our own code: no library.

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
export function colorFor(key, keys) { return PALETTE[Math.max(0, keys.indexOf(key)) % PALETTE.length]; }

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

/// series: { times: [sec...], keys: [k...], values: { k: [v per time] } }
/// Returns the x-axis labels drawn (UTC times of the first and last bucket).
export function drawStacked(canvas, series, legend) {
  const { ctx, w, h } = fit(canvas);
  const c = themeColors(canvas);
  ctx.clearRect(0, 0, w, h);
  const padL = 48, padB = 20, padT = 8, padR = 8;
  const n = series.times.length;
  const totals = new Array(n).fill(0);
  for (const k of series.keys) series.values[k].forEach((v, i) => totals[i] += v);
  const max = Math.max(1, ...totals);
  const x = (i) => padL + (n <= 1 ? 0 : (i / (n - 1)) * (w - padL - padR));
  const y = (v) => h - padB - (v / max) * (h - padB - padT);
  ctx.strokeStyle = c.line; ctx.fillStyle = c.muted; ctx.font = "11px system-ui, sans-serif"; ctx.lineWidth = 1;
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4, yy = y(v);
    ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(w - padR, yy); ctx.stroke();
    ctx.fillText(human(v), 4, yy + 4);
  }
  const labels = [];
  if (n > 0) {
    const fmt = (t) => new Date(t * 1000).toISOString().slice(11, 19);
    labels.push(fmt(series.times[0]), fmt(series.times[n - 1]));
    ctx.fillText(labels[0], padL, h - 4);
    ctx.fillText(labels[1], w - padR - ctx.measureText(labels[1]).width, h - 4);
  }
  const base = new Array(n).fill(0);
  if (n <= 120) {
    // Few buckets: stacked columns, so that a single bucket still shows.
    const slot = (w - padL - padR) / Math.max(1, n);
    const bx = (i) => padL + i * slot + slot * 0.1;
    for (const k of series.keys) {
      ctx.fillStyle = colorFor(k, series.keys);
      series.values[k].forEach((v, i) => {
        const y0 = y(base[i]), y1 = y(base[i] + v);
        ctx.fillRect(bx(i), y1, Math.max(1, slot * 0.8), y0 - y1);
        base[i] += v;
      });
    }
    if (legend) legendOf(series, legend);
    return labels;
  }
  for (const k of series.keys) {
    const vals = series.values[k];
    ctx.beginPath();
    for (let i = 0; i < n; i++) { const yy = y(base[i] + vals[i]); i === 0 ? ctx.moveTo(x(i), yy) : ctx.lineTo(x(i), yy); }
    for (let i = n - 1; i >= 0; i--) ctx.lineTo(x(i), y(base[i]));
    ctx.closePath();
    ctx.fillStyle = colorFor(k, series.keys);
    ctx.globalAlpha = 0.85; ctx.fill(); ctx.globalAlpha = 1;
    for (let i = 0; i < n; i++) base[i] += vals[i];
  }
  if (legend) legendOf(series, legend);
  return labels;
}

function legendOf(series, legend) {
  legend.replaceChildren(...series.keys.map((k) => {
    const s = document.createElement("span");
    s.style.setProperty("--c", colorFor(k, series.keys));
    s.textContent = k;
    return s;
  }));
}

/// items: [{ label, value }]
export function drawBars(canvas, items) {
  const { ctx, w, h } = fit(canvas);
  const c = themeColors(canvas);
  ctx.clearRect(0, 0, w, h);
  const shown = items.slice(0, 8);
  const max = Math.max(1, ...shown.map((i) => i.value));
  const rowH = h / Math.max(1, shown.length);
  ctx.font = "11px system-ui, sans-serif";
  shown.forEach((it, i) => {
    const bw = ((w - 120) * it.value) / max;
    ctx.fillStyle = PALETTE[i % PALETTE.length];
    ctx.fillRect(90, i * rowH + 3, Math.max(1, bw), rowH - 6);
    ctx.fillStyle = c.fg;
    ctx.fillText(String(it.label).slice(0, 14), 2, i * rowH + rowH / 2 + 4);
    ctx.fillText(human(it.value), 94 + bw, i * rowH + rowH / 2 + 4);
  });
}

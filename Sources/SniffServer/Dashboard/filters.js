// The filter form and the URL: the fields, their time zone, what the page checks itself
// before asking the server.
import { $, state, tzName, fmtTime } from "/ui/common.js";
import { captureOption } from "/ui/captures.js";

export const FILTER_NAMES = ["ip", "port", "transport", "app", "from", "to", "capture"];

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

export function readFilterFromURL() {
  const p = new URLSearchParams(location.search);
  const f = {};
  for (const k of FILTER_NAMES) if (p.get(k)) f[k] = p.get(k);
  return f;
}

export function writeFilterToForm(f) {
  $("f-ip").value = f.ip || ""; $("f-port").value = f.port || "";
  $("f-transport").value = f.transport || ""; $("f-app").value = f.app || "";
  $("f-from").value = formatTimeField(f.from); $("f-to").value = formatTimeField(f.to);
  captureOption(f.capture);
  $("f-capture").value = f.capture || "";
}

// The form's filter, or the first problem the page can see itself (at its field).
export function readFilterFromForm() {
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

export function syncURL() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filter)) p.set(k, v);
  history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p : ""));
}

// The From/To fields offer the packets' span (capture time) as their placeholders and
// in the hint under the form.
export function setTimeBounds() {
  for (const k of ["from", "to"]) $("f-" + k + "-zone").textContent = "(" + tzName() + ")";
  if (!state.span) return;
  const first = fmtTime(Math.floor(state.span.first)).slice(0, 19), last = fmtTime(Math.ceil(state.span.last)).slice(0, 19);
  $("f-from").placeholder = first; $("f-to").placeholder = last;
  $("f-from").dataset.min = first; $("f-to").dataset.max = last;
  $("f-span").textContent = "Packets from " + first + " to " + last + " (" + tzName() + ").";
}

export function showTimeLabels() {
  const z = tzName();
  for (const el of document.querySelectorAll(".tz-name")) el.textContent = z;
  setTimeBounds();
}

// The captures in the database, offered in the Capture field, and which one is shown.
import { $, state, fmtTime, tzName } from "/ui/common.js";
import { getJSON } from "/ui/api.js";

// The captures in the database, newest first, offered in the Capture field; the page
// shows one capture or all of them, and says which under the form.
export function chosenCapture() {
  return state.filter.capture ? state.captures.find((c) => c.id === state.filter.capture) : undefined;
}
export function captureSpan(c) {
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
export function captureOption(id) {
  const sel = $("f-capture");
  if (!id || Array.from(sel.options).some((o) => o.value === id)) return;
  const o = document.createElement("option");
  o.value = id; o.textContent = "capture " + id;
  sel.append(o);
}
export async function loadCaptures() {
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
export function otherCapture() {
  return Boolean(state.live && state.liveCaptureId && state.filter.capture && state.filter.capture !== state.liveCaptureId);
}

// The packets table: virtualised rows (only those in view are in the DOM), keys to move
// the selection, "more" paging and the live rows on top.
import { $, state, td, fmtTime, protoLabel, info } from "/ui/common.js";
import { getJSON } from "/ui/api.js";
import { showDetail } from "/ui/detail.js";
import { showError } from "/ui/errors.js";

const MAX_ROWS = 10000;
const ROW_H = 24;
let scroller = null, tbody = null;

export function renderPackets() {
  if (!scroller) return;
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

export async function loadPackets(more) {
  const q = { ...state.filter, limit: 500 };
  if (more && state.cursor) q.cursor = state.cursor;
  const page = await getJSON("/api/packets", q);
  state.rows = more ? state.rows.concat(page.rows) : page.rows;
  state.rows.length = Math.min(state.rows.length, MAX_ROWS);
  state.cursor = page.next_cursor;
  $("p-more").disabled = !state.cursor;
  renderPackets();
}

export function addLiveRows(rows) {
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

export function setUpPackets() {
  scroller = $("p-scroll");
  tbody = document.querySelector("#packets tbody");
  scroller.addEventListener("scroll", () => requestAnimationFrame(renderPackets));
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-index]");
    if (tr) select(Number(tr.dataset.index), true);
  });
  $("detail").addEventListener("close", () => scroller.focus());
  scroller.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "j") { select(Math.max(0, state.selected + 1), false); e.preventDefault(); }
    else if (e.key === "ArrowUp" || e.key === "k") { select(Math.max(0, state.selected - 1), false); e.preventDefault(); }
    else if (e.key === "PageDown") { select(Math.min(state.rows.length - 1, state.selected + 15), false); e.preventDefault(); }
    else if (e.key === "PageUp") { select(Math.max(0, state.selected - 15), false); e.preventDefault(); }
    else if (e.key === "Home") { select(0, false); e.preventDefault(); }
    else if (e.key === "Enter") { select(Math.max(0, state.selected), true); e.preventDefault(); }
  });
  $("p-more").addEventListener("click", () => loadPackets(true).catch(showError));
  $("p-pause").addEventListener("click", () => {
    state.livePaused = !state.livePaused;
    $("p-pause").setAttribute("aria-pressed", String(state.livePaused));
    $("p-pause").textContent = state.livePaused ? "Resume live rows" : "Pause live rows";
  });
  window.addEventListener("resize", renderPackets);
}

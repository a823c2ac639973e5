// The export links (xlsx, CSV, NDJSON, pcap) for the current filter or everything.
import { $, state } from "/ui/common.js";
import { withToken } from "/ui/api.js";

export function updateDownloads() {
  const all = $("d-all").checked;
  for (const fmt of ["xlsx", "csv", "ndjson", "pcap"]) {
    const q = new URLSearchParams(all ? {} : state.filter);
    q.set("format", fmt);
    const a = $("d-" + fmt);
    a.href = withToken("/api/export?" + q);
    a.setAttribute("download", "sniff-packets." + fmt);
  }
}

export function setUpDownloads() {
  $("d-all").addEventListener("change", updateDownloads);

  // pcap needs the packets' bytes (--store-raw): the link asks first (HEAD), and when the
  // server refuses, its explanation shows beside the link instead of a failed download.
  $("d-pcap").addEventListener("click", async (e) => {
    e.preventDefault();
    const a = $("d-pcap"), msg = $("d-pcap-error");
    msg.textContent = "";
    try {
      const head = await fetch(a.href, { method: "HEAD" });
      if (head.ok) {
        const go = document.createElement("a");
        go.href = a.href; go.download = "sniff-packets.pcap"; go.hidden = true;
        document.body.append(go); go.click(); go.remove();
        return;
      }
      let text = "pcap download refused (HTTP " + head.status + ")";
      try { const r = await fetch(a.href); const b = await r.json(); if (b && b.error) text = b.error; } catch { /* keep the status */ }
      msg.textContent = text;
    } catch {
      msg.textContent = "server unreachable: the pcap could not be fetched";
    }
  });
}

// Top talkers: address:port pairs, and the hosts table (addresses alone).
import { state, td, pick, protoLabel, FLOW_FILTERS } from "/ui/common.js";
import { getJSON } from "/ui/api.js";
import { human } from "/ui/chart.js";
import { addressCell } from "/ui/hosts.js";

export async function loadTalkers() {
  const t = await getJSON("/api/talkers", { ...pick(state.filter, FLOW_FILTERS), limit: 15 });
  document.querySelector("#talkers tbody").replaceChildren(...t.pairs.map((p) => {
    const tr = document.createElement("tr");
    // ICMP has no ports: the store keeps its type (and code) in the port fields, as
    // Zeek does; the table says so rather than calling them a port.
    const icmp = String(p.proto).toLowerCase().startsWith("icmp");
    const port = td(icmp ? "–" : p.port);
    if (icmp) port.title = "ICMP has no ports (type or code " + p.port + ")";
    tr.append(addressCell(p.address), port, td(protoLabel(p.proto, p.address)), td(p.packets, "num"), td(human(p.bytes), "num"), td(p.flows, "num"));
    return tr;
  }));
  document.querySelector("#hosts tbody").replaceChildren(...t.hosts.map((p) => {
    const tr = document.createElement("tr");
    tr.append(addressCell(p.address), td(p.packets, "num"), td(human(p.bytes), "num"), td(p.flows, "num"));
    return tr;
  }));
}


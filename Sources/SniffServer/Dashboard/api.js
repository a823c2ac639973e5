// Talking to the server: the token (from ?token= or the session), JSON GETs, and
// the WebSocket with reconnect backoff. No packet text is ever parsed as HTML here.

const params = new URLSearchParams(location.search);
if (params.get("token")) sessionStorage.setItem("sniff-token", params.get("token"));
export const token = sessionStorage.getItem("sniff-token") || "";

export function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

export class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || ("HTTP " + status));
    this.status = status;
    this.parameter = body && body.parameter;
  }
}

// The CSRF token that requests other than GET must carry (X-Sniff-CSRF), read once
// from /api/session: pages of other sites cannot read it.
let session = null;
function csrfToken() {
  if (!session) session = request("GET", "/api/session").then((s) => s.csrf_token).catch((e) => { session = null; throw e; });
  return session;
}

// The one fetch helper: the token when there is one, the CSRF header on anything but
// GET, JSON back, errors as APIError with the server's sentence.
async function request(method, path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const url = path + (q.toString() ? "?" + q : "");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  if (method !== "GET") headers["X-Sniff-CSRF"] = await csrfToken();
  let r;
  try {
    r = await fetch(url, { method, headers });
  } catch {
    // No answer at all (server stopped, network down): not an HTTP error.
    const e = new APIError(0, { error: "server unreachable" });
    e.unreachable = true;
    throw e;
  }
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) throw new APIError(r.status, body);
  return body;
}

export function getJSON(path, query = {}) { return request("GET", path, query); }

export function post(path) { return request("POST", path); }

/// A WebSocket to /ws/live that reconnects with exponential backoff (0.5 s to 15 s).
export class LiveSocket {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.delay = 500;
    this.filter = {};
    this.connect();
  }
  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(withToken(proto + "//" + location.host + "/ws/live"));
    this.ws = ws;
    this.onState("connecting");
    ws.onopen = () => { this.delay = 500; this.onState("up"); this.send(this.filter); };
    ws.onmessage = (e) => { try { this.onMessage(JSON.parse(e.data)); } catch { /* ignore malformed */ } };
    ws.onclose = () => {
      this.onState("down", this.delay);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 15000);
    };
    ws.onerror = () => ws.close();
  }
  send(filter) {
    this.filter = filter;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(filter));
  }
}

#!/usr/bin/env python3
"""logs-truth.py CAPTURE DEST_PREFIX: tshark's view of DNS messages and HTTP messages.

Reads `tshark -T json --no-duplicate-keys` of CAPTURE on stdin and writes two files of
JSON lines, for the golden tests of dns.log and http.log:
  DEST_PREFIX.dns.json   one object per DNS message: frame, time, ports, transport,
                         id, qr, the first question's name and type, rcode, and the
                         answer section (rendered as dns.log renders it) with TTLs
  DEST_PREFIX.http.json  one object per HTTP message: frame, ports, request method,
                         URI, version, Host, User-Agent, Referer, or response code,
                         phrase, Content-Type media type
Standard library only. Called by scripts/make-logs-truth.sh.
"""
import json
import sys


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def render(rr):
    t = int(rr.get("dns.resp.type", "0"))
    if t == 1:
        return rr.get("dns.a")
    if t == 28:
        return rr.get("dns.aaaa")
    if t == 5:
        return rr.get("dns.cname")
    if t == 2:
        return rr.get("dns.ns")
    if t == 12:
        return rr.get("dns.ptr.domain_name")
    if t == 39:
        return rr.get("dns.dname")
    if t == 15:
        return rr.get("dns.mx.mail_exchange")
    if t == 33:
        return rr.get("dns.srv.target")
    if t == 6:
        return rr.get("dns.soa.mname")
    if t == 16:
        return " ".join(as_list(rr.get("dns.txt")))
    if t in (64, 65):
        return "%s %s" % (rr.get("dns.svcb.svcpriority"), rr.get("dns.svcb.targetname"))
    return "<unknown type=%d>" % t


def root(name):
    return "." if name == "<Root>" else name


def dns_messages(layers):
    for d in as_list(layers.get("dns")):
        flags = d.get("dns.flags_tree", {})
        q = None
        for v in (d.get("Queries") or {}).values():
            q = as_list(v)[0]
            break
        answers, ttls = [], []
        for v in (d.get("Answers") or {}).values():
            for rr in as_list(v):
                answers.append(render(rr))
                ttls.append(int(rr.get("dns.resp.ttl", "0")))
        yield {
            "id": int(d["dns.id"], 16),
            "qr": int(flags.get("dns.flags.response", "0")),
            "rcode": int(flags.get("dns.flags.rcode", "0")),
            "query": root(q["dns.qry.name"]) if q else None,
            "qtype": int(q["dns.qry.type"]) if q and "dns.qry.type" in q else None,
            "answers": answers,
            "ttls": ttls,
        }


def http_messages(layers):
    for h in as_list(layers.get("http")):
        m = {}
        for key, v in h.items():
            if isinstance(v, dict) and "http.request.method" in v:
                m.update(method=v["http.request.method"], uri=v.get("http.request.uri"),
                         version=v.get("http.request.version"))
            if isinstance(v, dict) and "http.response.code" in v:
                m.update(code=int(v["http.response.code"]), phrase=v.get("http.response.phrase"),
                         version=v.get("http.response.version"))
        if not m:
            continue
        m["host"] = h.get("http.host")
        m["user_agent"] = h.get("http.user_agent")
        m["referrer"] = h.get("http.referer")
        ct = h.get("http.content_type")
        m["content_type"] = ct.split(";")[0].strip().lower() if ct else None
        yield m


def main():
    prefix = sys.argv[2]
    packets = json.load(sys.stdin)
    with open(prefix + ".dns.json", "w") as dns_out, open(prefix + ".http.json", "w") as http_out:
        for p in packets:
            layers = p["_source"]["layers"]
            frame = layers["frame"]
            base = {"frame": int(frame["frame.number"]), "time": frame["frame.time_epoch"]}
            for tp in ("udp", "tcp"):
                if tp in layers:
                    t = as_list(layers[tp])[-1]
                    base.update(transport=tp, sport=int(t[tp + ".srcport"]), dport=int(t[tp + ".dstport"]))
            for m in dns_messages(layers):
                dns_out.write(json.dumps(dict(base, **m), sort_keys=True) + "\n")
            for m in http_messages(layers):
                http_out.write(json.dumps(dict(base, **m), sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

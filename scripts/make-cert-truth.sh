#!/usr/bin/env bash
# make-cert-truth.sh FILE...
#
# Writes tshark's view of the server certificates in each capture, for the golden
# test of ssl.log's subject, issuer and validity (CertificateTsharkTests):
#   FILE.x509.tsv  one row per frame that completes a Certificate handshake message:
#                  frame number, source and destination TCP port, then the first
#                  (leaf) certificate's subject and issuer as JSON lists of RDNs in
#                  the certificate's order, each RDN a list of [OID, value] as tshark
#                  dissects them, and notBefore and notAfter as tshark shows them,
#                  turned into seconds since 1970
# tshark's PDML is read with Python's standard library; all dissection is tshark's.
# Its tshark runs as scripts/truth-common.sh sets it up.
set -euo pipefail
# shellcheck source=scripts/truth-common.sh
. "$(dirname "$0")/truth-common.sh"
truth_init make-cert-truth.sh "FILE..." "$@"

for path in "${TRUTH_FILES[@]}"; do
    dest=$path.x509.tsv
    tshark -n -r "$path" -Y 'tls.handshake.type == 11' -T pdml 2> >(grep -v 'Running as user' >&2) |
        python3 -c '
import calendar, json, sys, time
import xml.etree.ElementTree as ET

def seconds(show):
    # "2026-12-05 16:26:31 (UTC)" (utcTime) or "Dec  6, 2126 12:00:00.000000000 UTC" (generalizedTime)
    show = show.replace(" (UTC)", "").replace(" UTC", "").split(".")[0]
    for fmt in ("%Y-%m-%d %H:%M:%S", "%b %d, %Y %H:%M:%S"):
        try:
            return calendar.timegm(time.strptime(" ".join(show.split()), fmt))
        except ValueError:
            pass
    raise SystemExit("make-cert-truth.sh: unknown time " + repr(show))

def name(field):
    rdns = []
    for item in field.iter("field"):
        if item.get("name") != "x509if.RDNSequence_item":
            continue
        rdn = []
        for atv in item.iter("field"):
            if atv.get("name") != "x509if.RelativeDistinguishedName_item_element":
                continue
            oid = next(f.get("show") for f in atv.iter("field") if f.get("name") == "x509if.oid")
            # The value: the innermost field with a shown text (the string, whatever its type).
            leaves = [f for f in atv.iter("field") if len(f) == 0 and f.get("name") != "x509if.oid"]
            rdn.append([oid, leaves[-1].get("show")])
        rdns.append(rdn)
    return rdns

print("frame.number\ttcp.srcport\ttcp.dstport\tsubject\tissuer\tnot_before\tnot_after")
for packet in ET.parse(sys.stdin).getroot():
    fields = {f.get("name"): f for f in packet.iter("field") if f.get("name") in ("frame.number", "tcp.srcport", "tcp.dstport")}
    cert = next((f for f in packet.iter("field") if f.get("name") == "tls.handshake.certificate"), None)
    if cert is None:
        continue
    signed = next(f for f in cert.iter("field") if f.get("name") == "x509af.signedCertificate_element")
    part = {f.get("name"): f for f in signed if f.get("name") in ("x509af.issuer", "x509af.subject", "x509af.validity_element")}
    validity = part["x509af.validity_element"]
    times = [f.get("show") for f in validity.iter("field") if f.get("name") in ("x509af.utcTime", "x509af.generalizedTime")]
    print("\t".join([fields["frame.number"].get("show"), fields["tcp.srcport"].get("show"), fields["tcp.dstport"].get("show"),
                     json.dumps(name(part["x509af.subject"]), ensure_ascii=False),
                     json.dumps(name(part["x509af.issuer"]), ensure_ascii=False),
                     str(seconds(times[0])), str(seconds(times[1]))]))
' > "$dest.tmp"
    mv "$dest.tmp" "$dest"
    printf '%s\t%d certificates\n' "$dest" "$(($(wc -l < "$dest") - 1))"
done

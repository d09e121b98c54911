#!/usr/bin/env python3
"""Golden DNS messages from dnspython, for DNSWireTests (DNSVectors.swift) and the fuzz seeds.

    python3 -m venv /tmp/dnsvenv && /tmp/dnsvenv/bin/pip install dnspython
    /tmp/dnsvenv/bin/python Tests/DNSWireTests/make-vectors.py > Tests/DNSWireTests/DNSVectors.swift
    swift-format format -i Tests/DNSWireTests/DNSVectors.swift
    /tmp/dnsvenv/bin/python Tests/DNSWireTests/make-vectors.py --corpus Fuzz/Corpus/dns-message

Deterministic: fixed message IDs, a fixed key and a fixed clock (time.time is replaced), so the
output is the same on every run with the same dnspython version.
"""

import os
import sys
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.version

NOW = 1764547200  # 2026-12-01T00:00:00Z
time.time = lambda: NOW

KEY_NAME = "mamori-xfr-key."
KEY_SECRET = "bWFtb3JpLXRlc3Qta2V5LTMyLWJ5dGVzLWxvbmctISE="  # "mamori-test-key-32-bytes-long-!!"
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: ("hmac-sha256", KEY_SECRET)})
ZONE = "rpz.mamori."
SOA = "ns1.mamori. hostmaster.mamori. 2026120601 3600 600 86400 60"


def rrset(name, ttl, rdtype, *texts):
    return dns.rrset.from_text(name, ttl, dns.rdataclass.IN, rdtype, *texts)


vectors = []  # (swift name, comment, bytes)


def add(name, comment, wire):
    vectors.append((name, comment, bytes(wire)))


# 1. A plain query with RD.
q = dns.message.make_query("www.example.com.", "A", use_edns=False, id=0x1234)
add("query", "www.example.com. IN A, RD, id 0x1234", q.to_wire())

# 2. A response with compression across owner names and record data, several types, EDNS.
r = dns.message.make_response(q)
r.flags |= dns.flags.RA
r.answer.append(rrset("www.example.com.", 300, "CNAME", "web.example.com."))
r.answer.append(rrset("web.example.com.", 300, "A", "192.0.2.10", "192.0.2.11"))
r.answer.append(rrset("web.example.com.", 300, "AAAA", "2001:db8::10"))
r.answer.append(rrset("web.example.com.", 300, "TXT", '"v=spf1 -all" "two\\032words"', '"semi\\;colon"'))
r.authority.append(rrset("example.com.", 3600, "NS", "ns1.example.com.", "ns2.example.net."))
r.additional.append(rrset("example.com.", 3600, "MX", "10 mail.example.com."))
r.use_edns(0, 0, 1232)
add("response", "the answer to `query`: CNAME, 2 A, AAAA, TXT; 2 NS; MX and OPT (EDNS, 1232)", r.to_wire())

# 3. An NXDOMAIN with an SOA in the authority section.
nx = dns.message.make_response(dns.message.make_query("nope.example.com.", "AAAA", use_edns=False, id=7))
nx.set_rcode(dns.rcode.NXDOMAIN)
nx.flags |= dns.flags.AA
nx.authority.append(rrset("example.com.", 60, "SOA", "ns1.example.com. admin.example.com. 42 7200 900 1209600 60"))
add("nxdomain", "NXDOMAIN for nope.example.com. AAAA, AA, SOA in authority", nx.to_wire())

# 4. A NOTIFY (RFC 1996) for the RPZ zone, with the new SOA in the answer, unsigned.
notify = dns.message.Message(id=0x4242)
notify.set_opcode(dns.opcode.NOTIFY)
notify.flags |= dns.flags.AA
notify.question.append(dns.rrset.RRset(dns.name.from_text(ZONE), dns.rdataclass.IN, dns.rdatatype.SOA))
notify.answer.append(rrset(ZONE, 60, "SOA", SOA))
add("notify", "NOTIFY for rpz.mamori., AA, the SOA in the answer, id 0x4242", notify.to_wire())

# 5. The same NOTIFY signed with the key (hmac-sha256, time NOW).
notify.use_tsig(KEYRING, KEY_NAME)
add("signedNotify", "`notify` signed with mamori-xfr-key. (hmac-sha256) at NOW", notify.to_wire())

# 6. A signed AXFR request and a three-message signed response (RFC 8945 §5.3.1).
axfr = dns.message.make_query(ZONE, "AXFR", use_edns=False, id=0x5151)
axfr.flags = 0
axfr.use_tsig(KEYRING, KEY_NAME)
axfr_wire = axfr.to_wire()
add("axfrRequest", "AXFR rpz.mamori., id 0x5151, no flags, signed at NOW", axfr_wire)

parsed = dns.message.from_wire(axfr_wire, keyring=KEYRING)
rpz = [
    ("evil.example." + ZONE, "CNAME", "."),
    ("*.evil.example." + ZONE, "CNAME", "."),
    ("botnet-c2.test." + ZONE, "CNAME", "rpz-drop."),
    ("sinkhole.test." + ZONE, "A", "192.0.2.53"),
    ("32.10.2.0.192.rpz-ip." + ZONE, "CNAME", "rpz-passthru."),
    ("ns.badguy.test.rpz-nsdname." + ZONE, "CNAME", "."),
]
parts = [[(ZONE, "SOA", SOA), (ZONE, "NS", "ns1.mamori.")] + rpz[:2], rpz[2:5], rpz[5:] + [(ZONE, "SOA", SOA)]]
ctx = None
for k, records in enumerate(parts):
    if k == 0:
        m = dns.message.make_response(parsed)
    else:
        m = dns.message.Message(id=0x5151)
        m.flags = dns.flags.QR
        m.use_tsig(KEYRING, KEY_NAME)
    m.flags |= dns.flags.AA
    for name, rdtype, text in records:
        m.answer.append(rrset(name, 60 if rdtype == "SOA" else 300, rdtype, text))
    wire = m.to_wire(multi=True, tsig_ctx=ctx)
    ctx = m.tsig_ctx
    add(f"axfrResponse{k + 1}", f"AXFR response message {k + 1} of 3, AA, signed (multi) at NOW", wire)

# Check the stream verifies in dnspython itself, as a client reads it.
ctx = None
for k in range(3):
    m = dns.message.from_wire(
        vectors[-3 + k][2], keyring=KEYRING, request_mac=axfr.mac if k == 0 else b"",
        xfr=True, tsig_ctx=ctx, multi=True)
    ctx = m.tsig_ctx

if len(sys.argv) == 3 and sys.argv[1] == "--corpus":
    os.makedirs(sys.argv[2], exist_ok=True)
    for name, _, wire in vectors:
        with open(os.path.join(sys.argv[2], name), "wb") as f:
            f.write(wire)
    sys.exit(0)

print(f"// Generated by Tests/DNSWireTests/make-vectors.py with dnspython {dns.version.version}:")
print("//     /tmp/dnsvenv/bin/python Tests/DNSWireTests/make-vectors.py > Tests/DNSWireTests/DNSVectors.swift")
print("//     swift-format format -i Tests/DNSWireTests/DNSVectors.swift")
print("// Do not edit; run the script again.")
print()
print("/// Golden messages written by dnspython (see make-vectors.py), as hexadecimal.")
print("enum DNSVectors {")
print(f"    /// The clock of every signature: {NOW} (2026-12-01T00:00:00Z).")
print(f"    static let now: Int64 = {NOW}")
print(f'    static let keyName = "{KEY_NAME}"')
print(f'    static let keySecret = "{KEY_SECRET}"')
for name, comment, wire in vectors:
    print()
    print(f"    /// {comment}")
    h = wire.hex()
    print(f"    static let {name} = [UInt8](hex:")
    chunks = [h[i:i + 96] for i in range(0, len(h), 96)]
    for i, c in enumerate(chunks):
        print(f'        "{c}"' + (" +" if i < len(chunks) - 1 else ")"))
print("}")

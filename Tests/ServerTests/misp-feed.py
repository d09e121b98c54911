"""Writes a MISP feed the way MISP's feed export does, with PyMISP's feed generator
(MISPEvent.to_feed and MISPEvent.manifest), for MISPFeedPullTests.

    misp-feed.py DIRECTORY 1   two events: Emotet C2 (tlp:green; an address and port, a domain,
                               an attribute without to_ids) and a phishing event (a URL, an ip-src)
    misp-feed.py DIRECTORY 2   the Emotet event changed (the address replaced), the phishing event
                               gone from the manifest
"""
import json
import os
import sys

from pymisp import MISPEvent, MISPOrganisation

directory, step = sys.argv[1], int(sys.argv[2])


def event(uuid, info, timestamp, tags=()):
    e = MISPEvent()
    e.uuid = uuid
    e.info = info
    e.distribution = 3
    e.timestamp = timestamp
    org = MISPOrganisation()
    org.name = "CIRCL"
    org.uuid = "55f6ea5e-2c60-40e5-964f-47a8950d210f"
    e.Orgc = org
    for t in tags:
        e.add_tag(t)
    return e


def attribute(e, kind, value, to_ids=True):
    a = e.add_attribute(kind, value, to_ids=to_ids)
    a.distribution = 5
    return a


events = []
emotet = event("5b1f9b6e-0c1a-4e8e-9d6f-1a2b3c4d5e01", "Emotet C2 servers", 1764547200 + step, ["tlp:green"])
if step == 1:
    attribute(emotet, "ip-dst|port", "198.51.100.90|8080")
else:
    attribute(emotet, "ip-dst|port", "198.51.100.92|8080")
attribute(emotet, "domain", "c2.emotet.example")
attribute(emotet, "ip-dst", "198.51.100.91", to_ids=False)
events.append(emotet)
if step == 1:
    phishing = event("5b1f9b6e-0c1a-4e8e-9d6f-1a2b3c4d5e02", "Phishing kit", 1764547100)
    attribute(phishing, "url", "http://phish.example/login")
    attribute(phishing, "ip-src", "203.0.113.99")
    events.append(phishing)

os.makedirs(directory, exist_ok=True)
manifest = {}
for e in events:
    with open(os.path.join(directory, e.uuid + ".json"), "w") as f:
        json.dump(e.to_feed(with_meta=False), f)
    manifest.update(e.manifest)
with open(os.path.join(directory, "manifest.json"), "w") as f:
    json.dump(manifest, f)
for name in os.listdir(directory):
    if name.endswith(".json") and name != "manifest.json" and name[:-5] not in manifest:
        os.remove(os.path.join(directory, name))

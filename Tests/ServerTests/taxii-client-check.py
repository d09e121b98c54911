"""Reads and writes Mamori's TAXII 2.1 server with the OASIS client (taxii2-client), as a peer would.

Run by TAXIIServerTests with .build/pytools/bin/python; argv[1] is a JSON object:
  url               http://127.0.0.1:PORT
  reader, writer    [name, password] of a peer that may read collection A / read and write B
  scoped_token      a Bearer token that grants neither read_shared nor write_shared
  read_only, read_write   the collection ids A and B
  versioned_id      an object of A published in two versions
  expected          how many objects A holds
Prints one JSON object of results; the Swift test asserts on them.
"""
import json
import sys
import uuid

import requests
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Collection, Server, as_pages

MEDIA = "application/taxii+json;version=2.1"


def main():
    cfg = json.loads(sys.argv[1])
    url = cfg["url"]
    reader = tuple(cfg["reader"])
    writer = tuple(cfg["writer"])
    out = {}

    server = Server(url + "/taxii2/", user=reader[0], password=reader[1])
    out["discovery_title"] = server.title
    out["api_roots"] = [r.url for r in server.api_roots]
    root = server.api_roots[0]
    out["api_root_title"] = root.title
    out["max_content_length"] = root.max_content_length
    out["collections"] = sorted([{"id": c.id, "can_read": c.can_read, "can_write": c.can_write} for c in root.collections],
                                key=lambda c: c["id"])

    a = Collection(root.url + "collections/" + cfg["read_only"] + "/", user=reader[0], password=reader[1])
    # Every object, in pages of 500, with as_pages.
    count, pages, ids = 0, 0, set()
    for envelope in as_pages(a.get_objects, per_request=500):
        pages += 1
        objects = envelope.get("objects", [])
        count += len(objects)
        ids.update(o["id"] for o in objects)
    out["objects_paged"] = count
    out["distinct_ids"] = len(ids)
    out["pages"] = pages

    # The manifest, paged too; its date_added values are increasing.
    records = []
    for manifest in as_pages(a.get_manifest, per_request=1000):
        records += manifest.get("objects", [])
    out["manifest_records"] = len(records)
    dates = [r["date_added"] for r in records]
    out["manifest_sorted"] = dates == sorted(dates) and len(set(dates)) == len(dates)
    out["manifest_media_type"] = records[0].get("media_type") if records else None

    # added_after: everything after the 9,000th record.
    cut = dates[cfg["expected"] - 1001]
    after = 0
    for envelope in as_pages(a.get_objects, per_request=500, added_after=cut):
        after += len(envelope.get("objects", []))
    out["added_after_count"] = after

    # An object's versions, and the object itself (its last version by default).
    versions = a.object_versions(cfg["versioned_id"])
    out["versions"] = versions.get("versions", [])
    obj = a.get_object(cfg["versioned_id"])
    out["object_last_modified"] = [o["modified"] for o in obj.get("objects", [])]
    all_versions = a.get_object(cfg["versioned_id"], version="all")
    out["object_all_versions"] = len(all_versions.get("objects", []))
    out["match_type_malware"] = len(a.get_objects(type="malware").get("objects", []))

    # No credentials: 401 with a challenge, as a TAXII error.
    r = requests.get(url + "/taxii2/", headers={"Accept": MEDIA})
    out["unauthenticated"] = {"status": r.status_code, "www_authenticate": r.headers.get("WWW-Authenticate", ""),
                              "content_type": r.headers.get("Content-Type", ""), "title": r.json().get("title")}
    # Authenticated, but the token grants no sharing permission: 403.
    r = requests.get(url + "/taxii2/", headers={"Accept": MEDIA, "Authorization": "Bearer " + cfg["scoped_token"]})
    out["unauthorised"] = {"status": r.status_code, "http_status": r.json().get("http_status")}
    # A wrong password: 401.
    r = requests.get(url + "/taxii2/", headers={"Accept": MEDIA}, auth=(reader[0], "not the password"))
    out["wrong_password"] = r.status_code

    indicator = lambda: {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--" + str(uuid.uuid4()),
        "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
    }
    # A write to the read-only collection is refused: by the client, which reads can_write, and by
    # the server when the envelope is posted anyway.
    try:
        a.add_objects({"objects": [indicator()]})
        out["write_read_only_client"] = "accepted"
    except AccessError:
        out["write_read_only_client"] = "refused"
    r = requests.post(a.url + "objects/", auth=reader, data=json.dumps({"objects": [indicator()]}),
                      headers={"Accept": MEDIA, "Content-Type": MEDIA})
    out["write_read_only"] = r.status_code
    out["write_read_only_error"] = r.json().get("http_status")

    # A good write: a status resource, complete, with one failure for the malformed object.
    b = Collection(root.url + "collections/" + cfg["read_write"] + "/", user=writer[0], password=writer[1])
    good = [indicator() for _ in range(25)]
    bad = dict(indicator(), spec_version="2.0")
    status = b.add_objects({"objects": good + [bad]})
    out["write_status"] = {"status": status.status, "total": status.total_count, "success": status.success_count,
                           "failure": status.failure_count, "pending": status.pending_count,
                           "failure_message": (status.failures or [{}])[0].get("message", "")}
    status.refresh()
    out["status_refreshed"] = status.status
    out["written_read_back"] = len(b.get_objects().get("objects", []))
    # Writing the same objects again adds nothing new.
    again = b.add_objects({"objects": good})
    out["rewrite_success"] = again.success_count
    out["after_rewrite"] = len(b.get_objects().get("objects", []))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The internal API's catalog routes (doc/contract.md, Internal API):
POST /api/v1/w/{slug}/catalog/items (Meta's items_batch) and GET
/api/v1/w/{slug}/catalog/batches/{handle} (check_batch_request_status),
through lighttpd, the pool, MariaDB and the Meta sandbox, with the
catalog's own token."""
import glob
import json
import os
import re

from base import StackCase
from client import request
from meta import Sandbox

ITEMS = "/api/v1/w/%s/catalog/items"
BATCH = "/api/v1/w/%s/catalog/batches/%s"


def product(rid, **over):
    data = {"id": rid, "title": "Shirt %s" % rid, "description": "Cotton shirt",
            "availability": "in stock", "condition": "new", "price": "19.99 EUR",
            "link": "https://shop.example/p/%s" % rid,
            "image_link": "https://shop.example/i/%s.jpg" % rid, "brand": "Demo"}
    data.update(over)
    return data


class ApiCatalog(StackCase):
    workers = 3
    sandbox = True

    @classmethod
    def setUpStack(cls):
        cls.sb = Sandbox(cls.st.sandbox_port, cls.st.app_secret)
        cls.catalogs = {}
        for slug, cid in (("cat-a", "7700110001"), ("cat-b", "7700110002"),
                          ("cat-r", "7700110003"), ("cat-none", None)):
            cls.st.admin("workspace", "add", slug, slug.upper())
            # A WhatsApp token too: the catalog's troubles must not touch it.
            cls.st.admin("token", "set", slug, "waba",
                         input="EAAGwaba%s%s\n" % (slug.replace("-", ""), "w" * 30))
            if cid:
                tok = cls.sb.call("POST", "/_sandbox/catalogs",
                                  {"catalog_id": cid, "name": slug})["token"]
                cls.st.admin("token", "set", slug, "catalog", "--catalog-id", cid,
                             input=tok + "\n")
                cls.catalogs[slug] = (cid, tok)
        cls.key = cls.add_key("svc-catalog", "catalog:write", ["cat-a", "cat-r",
                                                                 "cat-none"])

    @classmethod
    def add_key(cls, name, scopes, workspaces=()):
        args = ["api-key", "add", name, "--scopes", scopes]
        for w in workspaces:
            args += ["--workspace", w]
        return cls.st.admin(*args).stdout.strip()

    def setUp(self):
        self.sb.clear_injections()
        self.sb.call("POST", "/_sandbox/requests/clear", {})

    def call(self, method, path, body=None, key=None, raw=None):
        h = {"Authorization": "Bearer " + (key or self.key)}
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        r = request(self.port, method, path, body=raw, headers=h, timeout=30)
        for _, tok in self.catalogs.values():
            self.assertNotIn(tok, r.text)
        return r

    def push(self, slug, requests, item_type="PRODUCT_ITEM", key=None):
        return self.call("POST", ITEMS % slug, {"item_type": item_type,
                                                "requests": requests}, key)

    def error_of(self, r, status, code):
        self.assertEqual(r.status, status, r.text[:500])
        self.assertEqual(r.header("Content-Type"), "application/json")
        err = json.loads(r.text)["error"]
        self.assertEqual(err["code"], code, err)
        return err

    def sent(self, endpoint):
        return self.sb.requests(endpoint)

    def status_json(self, slug):
        return json.loads(self.st.admin("status", slug, "--json").stdout)

    def test_push_100_products_and_read_the_batch(self):
        reqs = [{"method": "CREATE", "data": product("sku-%03d" % i)} for i in range(99)]
        reqs.append({"method": "CREATE", "data": product("sku-bad", availability=None)})
        r = self.push("cat-a", reqs)
        self.assertEqual(r.status, 200, r.text[:500])
        self.assertEqual(r.header("Content-Type"), "application/json")
        answer = json.loads(r.text)
        self.assertEqual(sorted(answer), ["handles", "validation_status"])
        (handle,) = answer["handles"]
        self.assertGreater(len(handle), 64)  # longer than a phone number id
        # One call, to the stored catalog, with its own token in a header.
        (sent,) = self.sent("items_batch")
        cid, tok = self.catalogs["cat-a"]
        self.assertEqual(sent["path"], "/v25.0/%s/items_batch" % cid)
        self.assertEqual((sent["method"], sent["token_via"], sent["access_token"]),
                         ("POST", "header", tok))
        self.assertEqual(sent["appsecret_proof"], self.sb.proof(tok))
        self.assertEqual(sent["body"], {"item_type": "PRODUCT_ITEM", "requests": reqs})
        self.assertNotIn(tok, json.dumps(sent["query"]))
        # Meta's batch: started, then finished with the bad item's errors.
        r = self.call("GET", BATCH % ("cat-a", handle))
        self.assertEqual(r.status, 200, r.text[:500])
        first = json.loads(r.text)
        self.assertEqual(sorted(first), ["batch", "handle"])
        self.assertEqual((first["handle"], first["batch"]["status"]), (handle, "started"))
        done = json.loads(self.call("GET", BATCH % ("cat-a", handle)).text)
        batch = done["batch"]
        self.assertEqual(batch["status"], "finished")
        self.assertEqual(batch["handle"], handle)
        self.assertEqual(batch["errors_total_count"], 1)
        self.assertEqual(batch["errors"][0]["id"], "sku-bad")
        self.assertEqual(batch["errors"][0]["line"], 99)
        self.assertIn("Availability", batch["errors"][0]["message"])
        self.assertEqual(batch["ids_of_invalid_requests"], ["sku-bad"])
        status_calls = self.sent("check_batch_request_status")
        self.assertEqual(len(status_calls), 2)
        self.assertEqual(status_calls[0]["query"]["handle"], handle)
        self.assertEqual(status_calls[0]["token_via"], "header")
        products = self.sb.state()["catalogs"][cid]["products"]
        self.assertEqual(len(products), 99)
        self.assertEqual(products["sku-042"]["price"], "19.99 EUR")
        # An update and a delete go the same way.
        r = self.push("cat-a", [{"method": "UPDATE", "data": {"id": "sku-001",
                                                              "price": "9.99 EUR"}},
                                {"method": "DELETE", "data": {"id": "sku-002"}}])
        self.assertEqual(r.status, 200, r.text)
        products = self.sb.state()["catalogs"][cid]["products"]
        self.assertEqual((len(products), products["sku-001"]["price"]), (98, "9.99 EUR"))

    def test_bad_bodies_are_400_and_nothing_is_sent(self):
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        bodies = [
            {"requests": ok},                                   # no item_type
            {"item_type": "SHOES", "requests": ok},
            {"item_type": 7, "requests": ok},
            {"item_type": "PRODUCT_ITEM"},
            {"item_type": "PRODUCT_ITEM", "requests": "[]"},
            {"item_type": "PRODUCT_ITEM", "requests": []},
            {"item_type": "PRODUCT_ITEM", "requests": [ok[0], "x"]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "PATCH",
                                                        "data": {"id": "x"}}]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "CREATE"}]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "CREATE", "data": {}}]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "CREATE",
                                                        "data": {"id": 12}}]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "CREATE",
                                                        "data": {"id": "x" * 101}}]},
            {"item_type": "PRODUCT_ITEM", "requests": [{"method": "DELETE",
                                                        "retailer_id": "x", "data": {}}]},
        ]
        for body in bodies:
            with self.subTest(body=json.dumps(body)[:80]):
                err = self.error_of(self.call("POST", ITEMS % "cat-a", body), 400,
                                    "invalid_request")
                self.assertTrue(err["message"])
        for raw in (b"", b"not json", b"[1,2]", b'{"item_type":"PRODUCT_ITEM",'):
            with self.subTest(raw=raw):
                self.error_of(self.call("POST", ITEMS % "cat-a", raw=raw), 400,
                              "invalid_request")
        err = self.error_of(self.call("POST", ITEMS % "cat-a", {
            "item_type": "PRODUCT_ITEM", "requests": [ok[0], {"method": "CREATE",
                                                              "data": {"id": ""}}]}),
            400, "invalid_request")
        self.assertIn("requests[1]", err["message"])
        # A handle that is not Meta's alphabet, or longer than any of Meta's.
        self.error_of(self.call("GET", BATCH % ("cat-a", "abc.def")), 400,
                      "invalid_request")
        # Longer than CATBATCH_HANDLE_MAX: refused by the field; longer
        # than any path segment (REQ_VAR_MAX): no such path.
        self.error_of(self.call("GET", BATCH % ("cat-a", "a" * 257)), 400,
                      "invalid_request")
        self.error_of(self.call("GET", BATCH % ("cat-a", "a" * 513)), 404,
                      "not_found")
        self.assertEqual(self.sent(None), [])

    def test_too_many_requests_is_413_and_nothing_is_sent(self):
        reqs = [{"method": "DELETE", "data": {"id": "r%d" % i}} for i in range(5001)]
        err = self.error_of(self.push("cat-a", reqs), 413, "too_large")
        self.assertIn("5000", err["message"])
        self.assertEqual(self.sent(None), [])
        # 5,000 is Meta's limit, and allowed.
        self.assertEqual(self.push("cat-a", reqs[:5000]).status, 200)

    def test_no_catalog_is_409_not_connected(self):
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        self.error_of(self.push("cat-none", ok), 409, "not_connected")
        self.error_of(self.call("GET", BATCH % ("cat-none", "AcXyz")), 409, "not_connected")
        self.assertEqual(self.sent(None), [])

    def test_wrong_scope_403_other_workspace_404(self):
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        reader = self.add_key("svc-reader", "connection:read,templates:write")
        self.error_of(self.push("cat-a", ok, key=reader), 403, "forbidden")
        self.error_of(self.call("GET", BATCH % ("cat-a", "AcXyz"), key=reader), 403,
                      "forbidden")
        # cat-b has a catalog, but this key may not touch cat-b.
        self.error_of(self.push("cat-b", ok), 404, "not_found")
        self.error_of(self.call("GET", BATCH % ("cat-b", "AcXyz")), 404, "not_found")
        self.error_of(self.push("nowhere", ok), 404, "not_found")
        self.assertEqual(self.sent(None), [])
        # Another catalog's handle is not found in this one.
        r = self.push("cat-b", ok, key=self.add_key("svc-b", "catalog:write", ["cat-b"]))
        self.assertEqual(r.status, 200, r.text)
        handle = json.loads(r.text)["handles"][0]
        self.error_of(self.call("GET", BATCH % ("cat-a", handle)), 404, "not_found")

    def test_meta_errors_mapped(self):
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        # A bare 5xx after the push reached Meta: 502 and never repeated.
        self.sb.inject("items_batch", "html", http_status=504, count=3)
        err = self.error_of(self.push("cat-a", ok), 502, "meta_unavailable")
        self.assertIn("may have acted", err["message"])
        self.assertEqual(len(self.sent("items_batch")), 1)
        self.sb.clear_injections()
        self.sb.call("POST", "/_sandbox/requests/clear", {})
        # Meta's code 1 on a 500 does not prove it did nothing: once too.
        self.sb.inject("items_batch", "500", code=1, count=3)
        err = self.error_of(self.push("cat-a", ok), 502, "meta_unavailable")
        self.assertEqual(err["meta"]["code"], 1)
        self.assertEqual(len(self.sent("items_batch")), 1)
        self.sb.clear_injections()
        # The catalog's batch limit (80014): 429 with Retry-After.
        self.sb.inject("items_batch", "429", count=10, fbtrace_id="CatTrace1")
        r = self.push("cat-a", ok)
        err = self.error_of(r, 429, "rate_limited")
        self.assertEqual(err["meta"], {"code": 80014, "fbtrace_id": "CatTrace1"})
        self.assertEqual(r.header("Retry-After"), "60")
        self.sb.clear_injections()
        self.sb.inject("check_batch_request_status", "429", count=10)
        r = self.call("GET", BATCH % ("cat-a", "AcXyz"))
        self.assertEqual(self.error_of(r, 429, "rate_limited")["meta"]["code"], 80009)
        self.sb.clear_injections()
        # Meta refusing the call's content: 422 with Meta's words.
        self.sb.inject("items_batch", "131047")
        err = self.error_of(self.push("cat-a", ok), 422, "meta_rejected")
        self.assertEqual(err["meta"]["code"], 131047)
        # A handle Meta does not know in this catalog.
        self.error_of(self.call("GET", BATCH % ("cat-a", "AcUnknown")), 404, "not_found")

    def test_zy_catalog_token_refused_marks_the_catalog_only(self):
        ok = [{"method": "DELETE", "data": {"id": "x"}}]
        before = self.status_json("cat-r")
        self.assertEqual(before["catalog"]["status"], "connected")
        cid, tok = self.catalogs["cat-r"]
        self.sb.call("POST", "/_sandbox/tokens/revoke", {"token": tok, "subcode": 460})
        err = self.error_of(self.push("cat-r", ok), 409, "needs_reconnect")
        self.assertEqual(err["meta"]["code"], 190)
        self.assertEqual(err["meta"]["error_subcode"], 460)
        self.assertIn("catalog", err["message"])
        after = self.status_json("cat-r")
        self.assertEqual(after["catalog"]["status"], "needs_reconnect")
        self.assertIsNone(before["catalog"]["reason"])
        self.assertTrue(after["catalog"]["reason"])
        self.assertEqual(after["status"], before["status"])
        # Seen in the feed and the audit log, once, naming the catalog.
        db = self.st.sql("SELECT db_name FROM workspaces WHERE slug = 'cat-r'",
                         db="waba_control").strip()
        events = [json.loads(x) for x in self.st.sql(
            "SELECT object FROM webhook_events WHERE kind = 'connection'",
            db=db).splitlines()]
        self.assertEqual(events, [{"state": "needs_reconnect", "access": "catalog",
                                   "reason": after["catalog"]["reason"]}])
        self.assertEqual(self.st.sql(
            "SELECT detail FROM audit_log WHERE action = "
            "'catalog_needs_reconnect'", db=db).splitlines(),
            [after["catalog"]["reason"]])
        self.assertEqual(after.get("reason"), before.get("reason"))
        # Seen once: the next calls answer from the stored state, Meta not asked.
        self.assertEqual(len(self.sent("items_batch")), 1)
        self.error_of(self.push("cat-r", ok), 409, "needs_reconnect")
        self.error_of(self.call("GET", BATCH % ("cat-r", "AcXyz")), 409, "needs_reconnect")
        self.assertEqual(len(self.sent("items_batch")), 1)
        self.assertEqual(self.sent("check_batch_request_status"), [])

    def test_zz_catalog_tokens_never_in_logs_or_urls(self):
        self.push("cat-a", [{"method": "DELETE", "data": {"id": "x"}}])
        toks = [tok for _, tok in self.catalogs.values()]
        names = glob.glob(self.st.path("*.log")) + glob.glob(self.st.path("*.err"))
        self.assertTrue(any(n.endswith("pool.log") for n in names), names)
        for name in names:
            with open(name, errors="replace") as f:
                text = f.read()
            for tok in toks:
                self.assertNotIn(tok, text, os.path.basename(name))
        for sent in self.sb.requests():
            self.assertNotRegex(sent["path"], re.escape(toks[0]))
            for tok in toks:
                self.assertNotIn(tok, json.dumps(sent["query"]))

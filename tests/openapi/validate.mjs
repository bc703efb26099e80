// Checks doc/api/openapi.yaml and the API answers the integration tests
// recorded (tests/out/api_answers.jsonl, one JSON object a line: method,
// path, status, headers, body) against it, and prints one JSON report on
// stdout for tests/integration/test_openapi.py to judge:
//   {"doc_valid", "doc_errors", "doc_routes": [[METHOD, path]...],
//    "checked", "failures": [text...]}
// The document is validated against the OpenAPI 3.1 schema by
// @seriousme/openapi-schema-validator; answers by Ajv (JSON Schema
// 2020-12, OpenAPI 3.1's dialect) with ajv-formats.
//
//   node validate.mjs OPENAPI.yaml ANSWERS.jsonl
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const [docPath, answersPath] = process.argv.slice(2);
const report = { doc_valid: false, doc_errors: [], doc_routes: [], checked: 0, failures: [] };
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
const DEFS = "urn:waba-connect:openapi";

const doc = YAML.parse(readFileSync(docPath, "utf8"));
const checked = await new Validator().validate(structuredClone(doc));
report.doc_valid = checked.valid;
if (!checked.valid) report.doc_errors = checked.errors;

for (const [path, item] of Object.entries(doc.paths || {}))
  for (const m of METHODS) if (item[m]) report.doc_routes.push([m.toUpperCase(), path]);

// Component schemas as one 2020-12 resource; every reference to them,
// there and in the responses, rewritten to point into it.
function rewrite(node, prefix) {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, prefix));
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node))
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")
      ? prefix + "#/$defs/" + v.slice("#/components/schemas/".length)
      : rewrite(v, prefix);
  return out;
}
// An OpenAPI object reference (#/components/responses/X, headers/X).
function deref(obj) {
  let seen = 0;
  while (obj && obj.$ref && seen++ < 10) {
    obj = obj.$ref.slice(2).split("/").reduce((o, k) => o && o[k.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
  }
  return obj;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
const compiled = new Map();
function validator(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rewrite(schema, DEFS)));
  return compiled.get(key);
}
try {
  ajv.addSchema({ $id: DEFS, $defs: rewrite(doc.components?.schemas || {}, "") });
  validator({ $ref: "#/components/schemas/Error" });
} catch (e) {
  report.doc_valid = false;
  report.doc_errors.push("component schemas: " + e.message);
  console.log(JSON.stringify(report));
  process.exit(0);
}

const templates = Object.keys(doc.paths || {}).map((p) => ({
  path: p,
  re: new RegExp("^" + p.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));

function where(a) {
  return `${a.method} ${a.path} ${a.status}`;
}
function checkBody(a, schema, label) {
  let body;
  try {
    body = JSON.parse(a.body);
  } catch {
    report.failures.push(`${where(a)}: ${label}: the body is not JSON: ${String(a.body).slice(0, 200)}`);
    return;
  }
  const v = validator(schema);
  if (!v(body))
    report.failures.push(`${where(a)}: ${label}: ${ajv.errorsText(v.errors)}; body ${String(a.body).slice(0, 300)}`);
}

const lines = (() => {
  try {
    return readFileSync(answersPath, "utf8").split("\n").filter((l) => l.trim());
  } catch {
    return [];
  }
})();
for (const line of lines) {
  const a = JSON.parse(line);
  report.checked++;
  const bare = a.path.split("?")[0];
  const headers = Object.fromEntries(Object.entries(a.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
  const t = templates.find((x) => x.re.test(bare));
  const op = t && doc.paths[t.path][a.method.toLowerCase() === "head" ? "get" : a.method.toLowerCase()];
  if (!op) {
    // Refused before any route was chosen (the document's description):
    // still the error envelope, with one of those statuses.
    if (![400, 404, 405, 413, 414, 500].includes(a.status))
      report.failures.push(`${where(a)}: no documented route, and not a refusal status`);
    else if (a.method !== "HEAD") checkBody(a, { $ref: "#/components/schemas/Error" }, "refused before routing");
    continue;
  }
  const st = String(a.status);
  const resp = deref(op.responses[st] || op.responses[st[0] + "XX"] || op.responses.default);
  if (!resp) {
    report.failures.push(`${where(a)}: status ${st} is not documented for ${a.method} ${t.path}`);
    continue;
  }
  for (const [name, h0] of Object.entries(resp.headers || {})) {
    const h = deref(h0);
    const got = headers[name.toLowerCase()];
    if (got === undefined) {
      if (h.required) report.failures.push(`${where(a)}: header ${name} is required`);
    } else if (h.schema && !validator(h.schema)(got)) {
      report.failures.push(`${where(a)}: header ${name}: ${JSON.stringify(got)} does not fit`);
    }
  }
  if (a.method === "HEAD") continue;
  const ctype = (headers["content-type"] || "").split(";")[0].trim();
  const media = resp.content && (resp.content[ctype] || resp.content["*/*"]);
  if (!resp.content) {
    if (a.body) report.failures.push(`${where(a)}: a body where the document has none`);
  } else if (!media) {
    report.failures.push(`${where(a)}: Content-Type ${ctype || "(none)"} is not documented`);
  } else if (media.schema) {
    checkBody(a, media.schema, `${a.method} ${t.path} ${st}`);
  }
}
console.log(JSON.stringify(report));

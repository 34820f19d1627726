// Lines of the generated schema.d.ts for a chosen set of operations.
//
// Issue #11 asked the generated types to shrink to a third of their size
// "for the same operations". The API has grown since, so comparing whole files
// would mix two things; this script keeps only the named operations (and the
// components they reach), generates types for that document exactly as
// `npm run generate` does (scripts/generate.mjs), and prints the line count.
//
//   node scripts/schema-size.mjs ../../openapi.json listProducts getProduct ...
//   node scripts/schema-size.mjs ../../openapi.json --ops-of old-openapi.json
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "./generate.mjs";

const [file, ...rest] = process.argv.slice(2);
if (!file || rest.length === 0) {
  console.error("usage: schema-size.mjs OPENAPI.json (--ops-of OTHER.json | operationId...)");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const operationsOf = (d) =>
  Object.values(d.paths).flatMap((item) =>
    Object.values(item).filter((op) => op && typeof op === "object" && op.operationId),
  );
const wanted = new Set(
  rest[0] === "--ops-of"
    ? operationsOf(JSON.parse(readFileSync(rest[1], "utf8"))).map((op) => op.operationId)
    : rest,
);

const paths = {};
for (const [path, item] of Object.entries(doc.paths)) {
  const kept = Object.fromEntries(
    Object.entries(item).filter(([, op]) => !op?.operationId || wanted.has(op.operationId)),
  );
  if (Object.values(kept).some((op) => op?.operationId)) paths[path] = kept;
}
const found = operationsOf({ paths }).map((op) => op.operationId);
const missing = [...wanted].filter((id) => !found.includes(id));
if (missing.length) {
  console.error(`not in ${file}: ${missing.join(", ")}`);
  process.exit(1);
}

// Keep only the components the kept paths reach, following $ref transitively.
const reached = new Set();
const walk = (value) => {
  if (Array.isArray(value)) return value.forEach(walk);
  if (!value || typeof value !== "object") return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === "$ref" && typeof inner === "string" && !reached.has(inner)) {
      reached.add(inner);
      const [, , kind, name] = inner.split("/");
      walk(doc.components?.[kind]?.[name]);
    } else if (key === "links") {
      // A link to an operation left out would dangle; links add no types.
      continue;
    } else {
      walk(inner);
    }
  }
};
walk(paths);
const components = {};
for (const [kind, entries] of Object.entries(doc.components ?? {})) {
  const kept = Object.entries(entries).filter(
    ([name]) => kind === "securitySchemes" || reached.has(`#/components/${kind}/${name}`),
  );
  if (kept.length) components[kind] = Object.fromEntries(kept);
}

const text = await generate({ ...doc, paths, components });
if (process.env.KEEP_DIR) writeFileSync(join(process.env.KEEP_DIR, "schema.d.ts"), text);
const lines = text.split("\n").length - 1;
console.log(`${found.length} operations: ${lines} lines`);

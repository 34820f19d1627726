// Generates src/schema.d.ts from openapi.json: openapi-typescript, run through its Node API,
// with the same options as its CLI would get (`--default-non-nullable false`), and then without
// two kinds of lines that state nothing:
//
// - a path's placeholders for what it does not have (`get?: never`, `put?: never`, ... and a
//   path-level `parameters` block of `query?: never` and the like). The methods a path has are
//   its keys; openapi-fetch finds them with `PathsWithMethod`, which skips an absent key exactly
//   as it skips a `never` one, so a GET on a POST-only path is refused either way
//   (examples/type-probe.ts checks it).
// - a response's `headers: { [name: string]: unknown }`, which says "any headers". A response
//   that documents a header (ETag, Cache-Control) keeps its block.
//
// An operation's own `query?: never`, `requestBody?: never` stay: they are what makes a client
// refuse query parameters or a body the operation does not take.
//
//   node scripts/generate.mjs ../../openapi.json src/schema.d.ts
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import ts from "typescript";

const isNeverPlaceholder = (member) =>
  ts.isPropertySignature(member) &&
  member.questionToken !== undefined &&
  member.type?.kind === ts.SyntaxKind.NeverKeyword;

// `parameters: { query?: never; header?: never; path?: never; cookie?: never }`.
const isEmptyParameters = (member) =>
  ts.isPropertySignature(member) &&
  propertyName(member) === "parameters" &&
  member.type !== undefined &&
  ts.isTypeLiteralNode(member.type) &&
  member.type.members.every(isNeverPlaceholder);

// `headers: { [name: string]: unknown }` and nothing else.
const isAnyHeaders = (member) =>
  ts.isPropertySignature(member) &&
  propertyName(member) === "headers" &&
  member.type !== undefined &&
  ts.isTypeLiteralNode(member.type) &&
  member.type.members.length === 1 &&
  ts.isIndexSignatureDeclaration(member.type.members[0]) &&
  member.type.members[0].type.kind === ts.SyntaxKind.UnknownKeyword;

function propertyName(member) {
  const name = member.name;
  return ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined;
}

/** A type literal's members, filtered; nested type literals are visited too. */
function prune(node, drop) {
  const visit = (inner) => {
    if (ts.isTypeLiteralNode(inner)) {
      const kept = inner.members.filter((member) => !drop(member)).map((member) => ts.visitEachChild(member, visit, undefined));
      return ts.factory.updateTypeLiteralNode(inner, ts.factory.createNodeArray(kept));
    }
    return ts.visitEachChild(inner, visit, undefined);
  };
  return visit(node);
}

function interfaceName(node) {
  return ts.isInterfaceDeclaration(node) ? node.name.text : undefined;
}

function withMembers(declaration, members) {
  return ts.factory.updateInterfaceDeclaration(
    declaration,
    declaration.modifiers,
    declaration.name,
    declaration.typeParameters,
    declaration.heritageClauses,
    ts.factory.createNodeArray(members),
  );
}

/** Prunes `paths` of its placeholders and every response of its any-headers block. */
function tidy(nodes) {
  return nodes.map((node) => {
    const name = interfaceName(node);
    if (name === "paths") {
      const members = node.members.map((path) =>
        ts.isPropertySignature(path) && path.type && ts.isTypeLiteralNode(path.type)
          ? ts.factory.updatePropertySignature(
              path,
              path.modifiers,
              path.name,
              path.questionToken,
              ts.factory.updateTypeLiteralNode(
                path.type,
                ts.factory.createNodeArray(
                  path.type.members.filter((m) => !isNeverPlaceholder(m) && !isEmptyParameters(m)),
                ),
              ),
            )
          : path,
      );
      return withMembers(node, members);
    }
    if (name === "operations" || name === "components") {
      const members = node.members.map((member) => prune(member, isAnyHeaders));
      return withMembers(node, members);
    }
    return node;
  });
}

/** The text of schema.d.ts for an OpenAPI document (parsed JSON). */
export async function generate(document) {
  const ast = await openapiTS(document, { defaultNonNullable: false });
  return COMMENT_HEADER + astToString(tidy(ast));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: generate.mjs OPENAPI.json OUTPUT.d.ts");
    process.exit(2);
  }
  writeFileSync(output, await generate(JSON.parse(readFileSync(input, "utf8"))));
}

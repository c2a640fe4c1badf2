// Generates TypeScript types from OpenAPI schemas with openapi-typescript (the version package-lock.json pins), the
// same as its CLI with `--default-non-nullable false`, in one process for any number of schemas:
//   node generate.mjs <openapi.json> <out.ts> [<openapi.json> <out.ts> ...]
// Why defaultNonNullable: false: by default openapi-typescript 7 makes every property with a `default` required,
// which is right for a response but wrong for a request body (nPermutations and minSegmentLength have defaults
// precisely so the app may leave them out); the check must see them optional, as the schema says.
import { readFile, writeFile } from "node:fs/promises";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

const OPTIONS = { defaultNonNullable: false, silent: true };

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  console.error("usage: node generate.mjs <openapi.json> <out.ts> [<openapi.json> <out.ts> ...]");
  process.exit(2);
}
for (let i = 0; i < args.length; i += 2) {
  const schema = JSON.parse(await readFile(args[i], "utf8"));
  const ast = await openapiTS(schema, OPTIONS);
  await writeFile(args[i + 1], COMMENT_HEADER + astToString(ast));
}

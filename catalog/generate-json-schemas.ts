import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildJsonSchemas, JSON_SCHEMA_DIR } from "./json-schema.ts";

// npm run catalog:schemas: regenerate the editor schemas after changing a catalog zod schema.
const dir = join(import.meta.dirname, "..", JSON_SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
for (const [file, text] of Object.entries(buildJsonSchemas())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote ${JSON_SCHEMA_DIR}/${file}`);
}

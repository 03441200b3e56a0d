import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ACCESS_DOC, generateAccessDoc } from "../control-plane/src/access/doc.ts";

// Writes docs/access.md (every route × role) from the route registry.
const target = join(import.meta.dirname, "..", ACCESS_DOC);
writeFileSync(target, await generateAccessDoc());
process.stdout.write(`wrote ${ACCESS_DOC}\n`);

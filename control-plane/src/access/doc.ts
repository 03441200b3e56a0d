import { randomBytes } from "node:crypto";
import { createSigner, generateEd25519KeyPair, sha256Hex } from "#protocol";
import { createApp } from "../app.ts";
import { silentLogger } from "../logger.ts";
import { createSecretBox } from "../pki/index.ts";
import { openSqliteStore } from "../store/index.ts";
import { type OpenApiPaths, renderAccessDoc, routeTable } from "./route-table.ts";

/** Where the generated route × role table lives, from the repository root. */
export const ACCESS_DOC = "docs/access.md";

/** The registry's routes as the app documents them, on a throwaway in-memory store. */
export async function documentedPaths(): Promise<OpenApiPaths> {
  const store = openSqliteStore(":memory:");
  try {
    const app = createApp({
      store,
      signer: createSigner(generateEd25519KeyPair().privateKey),
      secretBox: createSecretBox(randomBytes(32)),
      logger: silentLogger,
    });
    const token = randomBytes(32).toString("base64url");
    await store.migrate();
    await store.addAdminToken(
      { tokenHash: sha256Hex(new TextEncoder().encode(token)), label: "docs" },
      new Date().toISOString(),
    );
    const res = await app.request("/openapi.json", {
      headers: { authorization: `Bearer ${token}` },
    });
    const doc = (await res.json()) as { paths: OpenApiPaths };
    return doc.paths;
  } finally {
    await store.close();
  }
}

/** docs/access.md as the registry has it now. */
export const generateAccessDoc = async () => renderAccessDoc(routeTable(await documentedPaths()));

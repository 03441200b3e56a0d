import { createHash, randomUUID } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { ControlPlaneError } from "../errors.ts";
import type { Archive, ArchivePut } from "./archive.ts";
import { assertObjectKey } from "./keys.ts";

const NOTICE = `THIS DIRECTORY IS NOT WORM STORAGE.

It is the control plane's embedded default archive for the lab: objects here can be changed or
deleted by anyone with access to this machine. Production archives evidence to an S3 bucket
with Object Lock in COMPLIANCE mode (see control-plane/README.md, "Evidence vault").
`;

/**
 * The embedded default without S3 (lab, `npm start`): write-once files in a local directory,
 * clearly labelled NOT WORM. A second put of the same key succeeds only with the same bytes.
 */
export function localArchive(directory: string): Archive {
  const root = resolve(directory);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  writeFileSync(join(root, "NOT-WORM.txt"), NOTICE);
  return {
    kind: "local-not-worm",
    describe: `${root} (local directory, NOT WORM)`,
    async put(object: ArchivePut) {
      assertObjectKey(object.key);
      const path = resolve(root, object.key);
      if (!path.startsWith(root + sep))
        throw new ControlPlaneError("vault_integrity", "object key leaves the archive directory");
      if (sha256(object.body) !== object.sha256) {
        throw new ControlPlaneError("vault_integrity", `checksum mismatch for ${object.key}`);
      }
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const tmp = `${path}.${randomUUID()}.tmp`;
      writeFileSync(tmp, object.body, { mode: 0o400 });
      try {
        // link() never replaces an existing file: write-once, atomically.
        linkSync(tmp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (sha256(readFileSync(path)) !== object.sha256) {
          throw new ControlPlaneError("vault_integrity", `${object.key} already holds other bytes`);
        }
      } finally {
        unlinkSync(tmp);
      }
      return { versionId: null };
    },
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

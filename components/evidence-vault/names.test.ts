import { describe, expect, it } from "vitest";
import { TenantId } from "#protocol";
import { bucketPrefix, MAX_BUCKET_PREFIX, MAX_IAM_USER_NAME, writerUserName } from "./names.ts";

/** Every tenant id length the schema accepts, against AWS's name limits. */
const ids = Array.from({ length: 63 }, (_, i) =>
  `clinic-${"abcdefghij".repeat(7)}`.slice(0, i + 1).replace(/-$/, "x"),
);

describe("AWS names from tenant ids of every length", () => {
  it("uses only ids the tenant schema accepts", () => {
    for (const id of ids) expect(TenantId.safeParse(id).success, id).toBe(true);
  });

  it("keeps every bucket prefix within 37 characters, unchanged for the ids that fit", () => {
    for (const id of ids) {
      for (const purpose of ["evidence", "logs"] as const) {
        const prefix = bucketPrefix(id, purpose);
        expect(prefix.length, prefix).toBeLessThanOrEqual(MAX_BUCKET_PREFIX);
        expect(prefix).toMatch(/^msp-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-(evidence|logs)-$/);
        if (`msp-${id}-${purpose}-`.length <= MAX_BUCKET_PREFIX) {
          expect(prefix).toBe(`msp-${id}-${purpose}-`);
        }
      }
    }
    expect(bucketPrefix("riverside", "evidence")).toBe("msp-riverside-evidence-");
  });

  it("gives long ids that share a beginning different prefixes", () => {
    const a = `${"a".repeat(40)}-one`;
    const b = `${"a".repeat(40)}-two`;
    expect(bucketPrefix(a, "evidence")).not.toBe(bucketPrefix(b, "evidence"));
    expect(writerUserName(`${a}-vault-writer`, a)).not.toBe(writerUserName(`${b}-vault-writer`, b));
  });

  it("keeps the writer's IAM user name within 64 characters", () => {
    for (const id of ids) {
      const logical = `${id}-vault-writer`;
      const explicit = writerUserName(logical, id);
      // Pulumi's auto-name is the logical name plus "-" and 7 hex digits.
      const effective = explicit ?? `${logical}-abcdef0`;
      expect(effective.length, effective).toBeLessThanOrEqual(MAX_IAM_USER_NAME);
      expect(effective).toMatch(/^[A-Za-z0-9+=,.@_-]+$/);
    }
    expect(writerUserName("riverside-vault-writer", "riverside")).toBeUndefined();
  });
});

import { userInfo } from "node:os";
import { z } from "zod";
import { createAuditLog } from "../audit.ts";
import { dataDirLayout, signInSettings } from "../config.ts";
import {
  changeGrant,
  createAccountWithMfa,
  createToken,
  describeOperator,
  describeSession,
  describeToken,
  endSessions,
  type Grant,
  parseGrant,
  resetPassword,
  revokeToken,
  sessionsOf,
  setDisabled,
  Username,
  unlock,
} from "../operator/accounts.ts";
import { type MfaDeps, resetMfa, type ShownSecret } from "../operator/mfa.ts";
import { createSecretBox } from "../pki/index.ts";
import { CONFIG_OPTIONS, type Command, type Flags, need, optional, usageError } from "./command.ts";
import { commandConfig, openStore } from "./config.ts";
import { readText } from "./files.ts";

/**
 * `operator …` and `token …`: operator management from the command line, through the same
 * functions as the admin API and the dashboard. The audit actor is the local user running it.
 */
const GRANT_OPTIONS = {
  role: { type: "string" },
  tenants: { type: "string" },
  "window-from": { type: "string" },
  "window-to": { type: "string" },
  "expires-at": { type: "string" },
} as const;
const GRANT_USAGE =
  "--role admin|operator|viewer|auditor [--tenants all|T1,T2] [--window-from ISO --window-to ISO] [--expires-at ISO]";

/** A grant from flags (a bad one names its field, as the API does). */
const grantOf = (flags: Flags): Grant =>
  parseGrant({
    role: optional(flags, "role"),
    tenants: optional(flags, "tenants"),
    window_from: optional(flags, "window-from"),
    window_to: optional(flags, "window-to"),
    expires_at: optional(flags, "expires-at"),
  });

const usernameOf = (command: string, flags: Flags) => {
  const name = need(command, flags, "username");
  if (!Username.safeParse(name).success)
    throw usageError(`${command}: --username must be lower-case letters, digits, '.', '_' or '-'`);
  return name;
};

const print = (line: string) => process.stdout.write(`${line}\n`);
const printTotp = (username: string, totp: ShownSecret) => {
  print(`operator ${username} second factor (shown once): ${totp.otpauth_uri}`);
  print(`operator ${username} TOTP secret (base32, shown once): ${totp.secret}`);
};

/** A command that opens the store, runs with the account functions, and closes it. */
function accountCommand(
  name: string,
  usage: string,
  options: Command["options"],
  run: (d: MfaDeps, actor: string, flags: Flags) => Promise<void>,
): Command {
  return {
    name,
    usage: `control-plane ${name} (--data-dir DIR | --config FILE) ${usage}`,
    options: { ...CONFIG_OPTIONS, ...options },
    async run(flags) {
      if (flags["data-dir"] === undefined && flags.config === undefined)
        throw usageError(`${name} needs --data-dir or --config`);
      const config = commandConfig(name, flags);
      const store = openStore(config);
      try {
        await store.migrate();
        const now = () => new Date();
        // TOTP secrets are sealed with the data directory's secret-box key, as the server does.
        const key = readText(dataDirLayout(config.data_dir).secretKey, "secret-box key");
        await run(
          {
            store,
            audit: createAuditLog(store, now),
            now,
            secretBox: createSecretBox(Buffer.from(key.trim(), "base64")),
            signIn: signInSettings(config.sign_in),
          },
          `cli:${userInfo().username}`,
          flags,
        );
      } finally {
        await store.close();
      }
    },
  };
}

const USERNAME = { username: { type: "string" } } as const;

export const operatorCommands: readonly Command[] = [
  accountCommand("operator list", "", {}, async (d) => {
    for (const o of (await d.store.listOperators()).map(describeOperator)) print(JSON.stringify(o));
  }),
  accountCommand(
    "operator create",
    `--username U ${GRANT_USAGE} [--password-file FILE]`,
    { ...USERNAME, ...GRANT_OPTIONS, "password-file": { type: "string" } },
    async (d, actor, flags) => {
      const username = usernameOf("operator create", flags);
      const file = optional(flags, "password-file");
      const { password, totp } = await createAccountWithMfa(d, actor, {
        username,
        grant: grantOf(flags),
        password: file === undefined ? undefined : readText(file, "password file").trimEnd(),
      });
      print(
        file === undefined
          ? `operator ${username} password (shown once): ${password}`
          : `operator ${username} created`,
      );
      if (totp) printTotp(username, totp);
    },
  ),
  accountCommand(
    "operator grant",
    `--username U ${GRANT_USAGE}`,
    { ...USERNAME, ...GRANT_OPTIONS },
    async (d, actor, flags) => {
      const o = await changeGrant(d, actor, usernameOf("operator grant", flags), grantOf(flags));
      print(JSON.stringify(describeOperator(o)));
    },
  ),
  ...(["disable", "enable"] as const).map((verb) =>
    accountCommand(`operator ${verb}`, "--username U", USERNAME, async (d, actor, flags) => {
      const username = usernameOf(`operator ${verb}`, flags);
      await setDisabled(d, actor, username, verb === "disable");
      print(`operator ${username} ${verb}d`);
    }),
  ),
  accountCommand("operator reset-password", "--username U", USERNAME, async (d, actor, flags) => {
    const username = usernameOf("operator reset-password", flags);
    const { password } = await resetPassword(d, actor, username);
    print(`operator ${username} new password (shown once): ${password}`);
  }),
  accountCommand("operator reset-mfa", "--username U", USERNAME, async (d, actor, flags) => {
    const username = usernameOf("operator reset-mfa", flags);
    printTotp(username, await resetMfa(d, actor, username));
  }),
  accountCommand("operator unlock", "--username U", USERNAME, async (d, actor, flags) => {
    const username = usernameOf("operator unlock", flags);
    print(`operator ${username}: ${await unlock(d, actor, username)} throttled addresses cleared`);
  }),
  accountCommand("operator sessions", "--username U", USERNAME, async (d, _actor, flags) => {
    for (const s of await sessionsOf(d, usernameOf("operator sessions", flags)))
      print(JSON.stringify(describeSession(s)));
  }),
  accountCommand(
    "operator revoke-sessions",
    "--username U [--session ID]",
    { ...USERNAME, session: { type: "string" } },
    async (d, actor, flags) => {
      const username = usernameOf("operator revoke-sessions", flags);
      const ended = await endSessions(d, actor, username, optional(flags, "session"));
      print(`operator ${username}: ${ended} sessions ended`);
    },
  ),
  accountCommand("token list", "", {}, async (d) => {
    for (const t of (await d.store.listAdminTokens()).map(describeToken)) print(JSON.stringify(t));
  }),
  accountCommand(
    "token create",
    `--name N ${GRANT_USAGE} [--days D]`,
    { name: { type: "string" }, ...GRANT_OPTIONS, days: { type: "string" } },
    async (d, actor, flags) => {
      const days = optional(flags, "days");
      const parsedDays = z.coerce.number().int().min(1).max(3650).safeParse(days);
      if (days !== undefined && !parsedDays.success)
        throw usageError("token create: --days must be a whole number of days (1 to 3650)");
      const { token, record } = await createToken(d, actor, {
        name: need("token create", flags, "name"),
        grant: grantOf(flags),
        days: days === undefined ? undefined : parsedDays.data,
      });
      print(
        `token ${record.label} (${describeToken(record).token_id}), expires ${record.expiresAt}`,
      );
      print(`token (shown once): ${token}`);
    },
  ),
  accountCommand("token revoke", "--id ID", { id: { type: "string" } }, async (d, actor, flags) => {
    const id = need("token revoke", flags, "id");
    await revokeToken(d, actor, id);
    print(`token ${id} revoked`);
  }),
];

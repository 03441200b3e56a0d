import { z } from "zod";
import type { Host } from "../../ports.ts";
import type { CheckFinding, DriftCheck, PreState } from "../contract.ts";
import { failed, skipped, verdict } from "../contract.ts";
import { firstLine, runTool, toggleValue } from "../support.ts";

interface BlockDevice {
  name: string;
  type: string;
  fstype?: string | null | undefined;
  mountpoint?: string | null | undefined;
  children?: BlockDevice[] | undefined;
}
const BlockDevice: z.ZodType<BlockDevice> = z.lazy(() =>
  z.looseObject({
    name: z.string(),
    type: z.string(),
    fstype: z.string().nullable().optional(),
    mountpoint: z.string().nullable().optional(),
    children: z.array(BlockDevice).optional(),
  }),
);
const Lsblk = z.looseObject({ blockdevices: z.array(BlockDevice) });

/** Every `crypt` device of `lsblk -J`, by name. Undefined when the JSON is not lsblk's. */
export function cryptDevices(text: string): Map<string, BlockDevice> | undefined {
  let parsed: z.infer<typeof Lsblk>;
  try {
    parsed = Lsblk.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
  const found = new Map<string, BlockDevice>();
  const walk = (d: BlockDevice) => {
    if (d.type === "crypt") found.set(d.name, d);
    for (const c of d.children ?? []) walk(c);
  };
  for (const d of parsed.blockdevices) walk(d);
  return found;
}

export interface CryptStatus {
  readonly active: boolean;
  readonly type?: string;
  readonly cipher?: string;
  readonly keyBits?: number;
}

/**
 * `cryptsetup status NAME` (cryptsetup 2.x action_status): "<path> is active[ and is in use]."
 * then "  key: value" lines; "<path> is inactive." (exit 4) when not open. Undefined otherwise.
 */
export function parseCryptStatus(
  name: string,
  code: number,
  text: string,
): CryptStatus | undefined {
  const lines = text.split("\n");
  const path = `/dev/mapper/${name}`;
  if (code === 4 && lines[0] === `${path} is inactive.`) return { active: false };
  if (code !== 0 || !/^\S+ is active(?: and is in use)?\.$/.test(lines[0] ?? "")) return undefined;
  if (!lines[0]?.startsWith(`${path} `)) return undefined;
  const fields = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    // Every line is "  key: value" in printable text; anything else means we did not get it all.
    const m = /^\s+([a-z ]+):\s+([\x20-\x7e]*)$/.exec(line);
    if (!m) return undefined;
    fields.set(m[1] as string, (m[2] as string).trim());
  }
  // The lines cryptsetup 2.x always prints; a cut-off answer lacks the last of them.
  if (!["device", "size", "mode"].every((k) => fields.has(k))) return undefined;
  const bits = /^(\d+) bits$/.exec(fields.get("keysize") ?? "");
  const type = fields.get("type");
  const cipher = fields.get("cipher");
  if (!type || !cipher || !bits) return undefined;
  return { active: true, type, cipher, keyBits: Number(bits[1]) };
}

export interface SwapArea {
  readonly path: string;
  readonly type: "partition" | "file";
}

/**
 * /proc/swaps (mm/swapfile.c swap_show): a fixed header, then "path type size used priority"
 * per area, the path with space, tab, newline and backslash escaped as octal. Undefined when
 * malformed.
 */
export function parseProcSwaps(text: string): SwapArea[] | undefined {
  const [header, ...lines] = text.split("\n").filter((l) => l !== "");
  if (!header || !/^Filename\s+Type\s+Size\s+Used\s+Priority$/.test(header)) return undefined;
  const areas: SwapArea[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(partition|file)\s+\d+\s+\d+\s+-?\d+$/.exec(line);
    if (!m) return undefined;
    const path = (m[1] as string).replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    areas.push({ path, type: m[2] as SwapArea["type"] });
  }
  return areas;
}

/** dm-N for /dev/dm-N or a /dev/mapper/<name> link to it; undefined for other devices. */
async function dmName(host: Host, path: string): Promise<string | undefined> {
  const direct = /^\/dev\/(dm-\d+)$/.exec(path)?.[1];
  if (direct) return direct;
  if (!path.startsWith("/dev/mapper/")) return undefined;
  const target = await host.readlink(path);
  return target ? /(?:^|\/)(dm-\d+)$/.exec(target)?.[1] : undefined;
}

export const encryption = {
  id: "encryption",
  title: "The expected LUKS volumes are open with the baseline cipher, and swap is encrypted",
  citations: ["45 CFR 164.312(a)(2)(iv)"],
  severity: "critical",
  findings: ["luks_volume_unencrypted", "swap_unencrypted"],
  async run(host, context) {
    const { baseline, expected } = context;
    if (!baseline) return skipped("no baseline: the agent has no catalog_dir");
    const cipher = toggleValue(baseline, "luks-volumes-encrypted");
    if (typeof cipher !== "string")
      return skipped("the baseline has no luks-volumes-encrypted cipher");
    if (expected.luks_volumes.length === 0)
      return skipped("config host.luks_volumes is empty: no volume to check");

    const list = await runTool(host, context, ["lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"]);
    if (!list.ok) return failed(list.reason);
    if (list.code !== 0) return failed(`lsblk exited ${list.code}: ${firstLine(list.stderr)}`);
    const crypts = cryptDevices(list.stdout);
    if (!crypts) return failed("lsblk -J printed something that is not its JSON");

    const findings: CheckFinding<"encryption">[] = [];
    const state: PreState = {};
    for (const name of expected.luks_volumes) {
      const run = await runTool(host, context, ["cryptsetup", "status", name], 64 * 1024);
      if (!run.ok) return failed(run.reason);
      const status = parseCryptStatus(name, run.code, run.stdout);
      if (!status)
        return failed(
          `cryptsetup status ${name} exited ${run.code}: ${firstLine(run.stderr || run.stdout)}`,
        );
      const block = crypts.get(name);
      state[`${name}.active`] = status.active;
      if (!status.active) {
        findings.push({
          code: "luks_volume_unencrypted",
          subject: name,
          expected: "active LUKS2",
          observed: "inactive",
        });
        continue;
      }
      if (!block)
        return failed(`cryptsetup says ${name} is active but lsblk lists no such crypt device`);
      Object.assign(state, {
        [`${name}.type`]: status.type ?? null,
        [`${name}.cipher`]: status.cipher ?? null,
        [`${name}.key_size_bits`]: status.keyBits ?? null,
        [`${name}.mountpoint`]: block.mountpoint ?? null,
      });
      if (status.type !== "LUKS2") {
        findings.push({
          code: "luks_volume_unencrypted",
          subject: name,
          expected: "LUKS2",
          observed: status.type ?? null,
        });
      } else if (status.cipher !== cipher) {
        findings.push({
          code: "luks_volume_unencrypted",
          subject: name,
          expected: cipher,
          observed: status.cipher ?? null,
        });
      }
    }

    // Swap: every area on disk must go through dm-crypt (zram lives in memory).
    const swapsText = await host.readFile("/proc/swaps", 64 * 1024);
    const swaps = swapsText === undefined ? undefined : parseProcSwaps(swapsText);
    if (!swaps) return failed("cannot read /proc/swaps");
    state.swap_areas = swaps.length;
    for (const swap of swaps) {
      if (/^\/dev\/zram\d+$/.test(swap.path)) continue;
      const dm = await dmName(host, swap.path);
      const uuid = dm ? await host.readFile(`/sys/block/${dm}/dm/uuid`, 4096) : undefined;
      if (dm && uuid === undefined)
        return failed(`cannot read the device-mapper uuid of ${swap.path}`);
      const kind = uuid?.trim().split("-").slice(0, 2).join("-") ?? swap.type;
      state[`swap:${swap.path}.kind`] = kind;
      if (!uuid?.startsWith("CRYPT-")) {
        findings.push({
          code: "swap_unencrypted",
          subject: swap.path,
          expected: "dm-crypt (CRYPT-*)",
          observed: kind,
        });
      }
    }
    return verdict(findings, state);
  },
} as const satisfies DriftCheck<"encryption">;

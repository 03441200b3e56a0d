import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";

/**
 * `cryptsetup status NAME`, as cryptsetup 2.x's action_status prints it. An inactive or unknown
 * mapping prints "... is inactive." and exits 4 (ENODEV, "wrong device").
 */
export const cryptsetup: LabCommand = (args, { state }) => {
  if (args.length !== 2 || args[0] !== "status") return usage("cryptsetup", args);
  const name = args[1] as string;
  const path = `/dev/mapper/${name}`;
  const v = state.luks[name];
  if (!v?.active) return { code: 4, stdout: `${path} is inactive.\n` };
  const lines = [
    `${path} is active${v.mountpoint ? " and is in use" : ""}.`,
    `  type:    ${v.type}`,
    `  cipher:  ${v.cipher}`,
    `  keysize: ${v.key_size_bits} bits`,
    "  key location: keyring",
    `  device:  /dev/${v.device}`,
    "  sector size:  512",
    `  offset:  ${v.type === "LUKS2" ? 32768 : v.type === "LUKS1" ? 4096 : 0} sectors`,
    `  size:    ${v.size_sectors} sectors`,
    "  mode:    read/write",
  ];
  return { code: 0, stdout: `${lines.join("\n")}\n` };
};

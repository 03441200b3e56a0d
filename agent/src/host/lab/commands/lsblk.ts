import type { LabCommand } from "../registry.ts";
import { usage } from "../registry.ts";
import type { LabState } from "../state.ts";

interface Device {
  name: string;
  type: string;
  fstype: string | null;
  mountpoint: string | null;
  children?: Device[];
}

/**
 * `lsblk -J -o NAME,TYPE,FSTYPE,MOUNTPOINT`: util-linux 2.38's JSON layout (three-space
 * indent, sibling objects joined by `},{`). Disks come from the LUKS volumes' backing
 * partitions; an open volume appears as a `crypt` child of its partition.
 */
export const lsblk: LabCommand = (args, { state }) => {
  if (args.join(" ") !== "-J -o NAME,TYPE,FSTYPE,MOUNTPOINT") return usage("lsblk", args);
  return { code: 0, stdout: `${renderLsblk({ blockdevices: devices(state) })}\n` };
};

function devices(state: LabState): Device[] {
  const disks = new Map<string, Device>();
  const disk = (name: string) => {
    let d = disks.get(name);
    if (!d) {
      d = { name, type: "disk", fstype: null, mountpoint: null, children: [] };
      disks.set(name, d);
    }
    return d;
  };
  const boot = state.mounts.find((m) => m.target === "/boot");
  if (boot) {
    const part = boot.source.replace("/dev/", "");
    disk(part.replace(/\d+$/, "")).children?.push({
      name: part,
      type: "part",
      fstype: boot.fstype,
      mountpoint: "/boot",
    });
  }
  for (const [name, v] of Object.entries(state.luks).sort(([, a], [, b]) =>
    a.device.localeCompare(b.device),
  )) {
    const part: Device = {
      name: v.device,
      type: "part",
      fstype: v.type === "PLAIN" ? null : "crypto_LUKS",
      mountpoint: null,
      ...(v.active
        ? { children: [{ name, type: "crypt", fstype: v.fstype, mountpoint: v.mountpoint }] }
        : {}),
    };
    disk(v.device.replace(/\d+$/, "")).children?.push(part);
  }
  return [...disks.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** lsblk's own JSON writer layout (libsmartcols), so the emulator prints the same bytes. */
export function renderLsblk(value: { blockdevices: Device[] }): string {
  const obj = (d: Device, depth: number): string => {
    const pad = " ".repeat(depth + 3);
    const fields = [
      `${pad}"name": ${JSON.stringify(d.name)}`,
      `${pad}"type": ${JSON.stringify(d.type)}`,
      `${pad}"fstype": ${JSON.stringify(d.fstype)}`,
      `${pad}"mountpoint": ${JSON.stringify(d.mountpoint)}`,
    ];
    if (d.children?.length) fields.push(`${pad}"children": ${list(d.children, depth + 3)}`);
    return `{\n${fields.join(",\n")}\n${" ".repeat(depth)}}`;
  };
  const list = (ds: Device[], depth: number) =>
    `[\n${" ".repeat(depth + 3)}${ds.map((d) => obj(d, depth + 3)).join(",")}\n${" ".repeat(depth)}]`;
  return `{\n   "blockdevices": ${list(value.blockdevices, 3)}\n}`;
}

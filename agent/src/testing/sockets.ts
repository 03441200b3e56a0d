import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * The sockets a process could accept traffic on, read from /proc (Linux): its own socket
 * inodes (from /proc/<pid>/fd) matched against /proc/<pid>/net/{tcp,tcp6,udp,udp6,unix}. A TCP
 * socket in LISTEN, any UDP socket, or a unix socket with __SO_ACCEPTCON counts.
 */
export function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // the process is gone
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {}
  }
  const found: string[] = [];
  const table = (name: string) => {
    try {
      return readFileSync(`/proc/${pid}/net/${name}`, "utf8").trim().split("\n").slice(1);
    } catch {
      return [];
    }
  };
  for (const name of ["tcp", "tcp6", "udp", "udp6"]) {
    for (const line of table(name)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1], cols[3], cols[9]];
      if (!inode || !inodes.has(inode)) continue;
      if (name.startsWith("udp") || state === "0A") found.push(`${name} ${local} state ${state}`);
    }
  }
  for (const line of table("unix")) {
    const cols = line.trim().split(/\s+/);
    const [flags, inode] = [cols[3], cols[6]];
    if (inode && inodes.has(inode) && flags && (Number.parseInt(flags, 16) & 0x10000) !== 0) {
      found.push(`unix ${cols[7] ?? "(unnamed)"} listening`);
    }
  }
  return found;
}

import { spawn } from "node:child_process";
import { lstat, open, readlink } from "node:fs/promises";
import { hostname, networkInterfaces } from "node:os";
import { AgentError } from "../errors.ts";
import type { ExecRequest, ExecResult, FileStat, Host } from "../ports.ts";

/**
 * The real Linux machine. Programs run as argv with `shell: false` in their own process group,
 * so a timeout or an abort kills the program and everything it started; stdout and stderr are
 * each capped (the rest is read and discarded, so the program never blocks on a full pipe).
 */
export const linuxHost: Host = {
  macAddresses() {
    const macs = new Set<string>();
    for (const addresses of Object.values(networkInterfaces())) {
      for (const a of addresses ?? []) {
        const mac = a.mac.toLowerCase();
        if (
          !a.internal &&
          /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/.test(mac) &&
          mac !== "00:00:00:00:00:00"
        ) {
          macs.add(mac);
        }
      }
    }
    return [...macs].sort();
  },
  hostname: () =>
    hostname()
      .replace(/[^a-zA-Z0-9.-]/g, "-")
      .slice(0, 253) || "appliance",
  exec: execArgv,
  readFile: readFileCapped,
  async stat(path) {
    try {
      return toFileStat(await lstat(path));
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw new AgentError("host_failure", `cannot stat ${path}`, { cause: error });
    }
  },
  async readlink(path) {
    try {
      return await readlink(path);
    } catch (error) {
      // EINVAL: the path exists but is not a symlink.
      if (isAbsent(error) || code(error) === "EINVAL") return undefined;
      throw new AgentError("host_failure", `cannot read link ${path}`, { cause: error });
    }
  },
};

export function execArgv(request: ExecRequest): Promise<ExecResult> {
  const [program, ...args] = request.argv;
  return new Promise<ExecResult>((resolve) => {
    if (request.signal?.aborted) return resolve({ kind: "failed", message: "aborted" });
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, args, {
        shell: false,
        detached: true, // its own process group: a kill reaches the grandchildren too
        stdio: [request.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (error) {
      return resolve({ kind: "failed", message: `cannot start ${program}: ${String(error)}` });
    }
    const out = cappedCollector(request.maxOutputBytes);
    const err = cappedCollector(request.maxOutputBytes);
    child.stdout?.on("data", out.push);
    child.stderr?.on("data", err.push);
    let ended: "timed_out" | "aborted" | undefined;
    let startError: NodeJS.ErrnoException | undefined;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      ended ??= "timed_out";
      killGroup();
    }, request.timeoutMs);
    const onAbort = () => {
      ended ??= "aborted";
      killGroup();
    };
    request.signal?.addEventListener("abort", onAbort, { once: true });
    if (request.stdin !== undefined && child.stdin) {
      child.stdin.on("error", () => {}); // EPIPE when the program does not read its input
      child.stdin.end(request.stdin);
    }
    child.once("error", (error: NodeJS.ErrnoException) => {
      startError = error;
    });
    child.once("close", (exitCode, signal) => {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      // A group member may outlive the leader; leave nothing running after we answer.
      if (exitCode === null || ended) killGroup();
      if (startError?.code === "ENOENT") return resolve({ kind: "not_found" });
      if (startError) {
        return resolve({ kind: "failed", message: `cannot start ${program}: ${startError.code}` });
      }
      if (ended === "timed_out") return resolve({ kind: "timed_out" });
      if (ended === "aborted") return resolve({ kind: "failed", message: "aborted" });
      if (exitCode === null) {
        return resolve({ kind: "failed", message: `${program} was killed by ${signal}` });
      }
      resolve({
        kind: "exited",
        code: exitCode,
        stdout: out.text(),
        stderr: err.text(),
        truncated: out.truncated() || err.truncated(),
      });
    });
  });
}

function cappedCollector(max: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = false;
  return {
    push: (chunk: Buffer) => {
      const room = max - kept;
      if (room <= 0) {
        if (chunk.byteLength > 0) dropped = true;
        return;
      }
      if (chunk.byteLength > room) dropped = true;
      const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.byteLength;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    truncated: () => dropped,
  };
}

async function readFileCapped(path: string, maxBytes: number): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (isAbsent(error)) return undefined;
    throw new AgentError("host_failure", `cannot open ${path}`, { cause: error });
  }
  try {
    const buffer = Buffer.alloc(maxBytes);
    let length = 0;
    while (length < maxBytes) {
      const { bytesRead } = await handle.read(buffer, length, maxBytes - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length).toString("utf8");
  } catch (error) {
    throw new AgentError("host_failure", `cannot read ${path}`, { cause: error });
  } finally {
    await handle.close();
  }
}

function toFileStat(s: Awaited<ReturnType<typeof lstat>>): FileStat {
  const kind = s.isSymbolicLink()
    ? "symlink"
    : s.isFile()
      ? "file"
      : s.isDirectory()
        ? "directory"
        : "other";
  return { kind, size: Number(s.size), mode: Number(s.mode) & 0o7777, mtimeMs: Number(s.mtimeMs) };
}

const code = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;
const isAbsent = (error: unknown) => code(error) === "ENOENT" || code(error) === "ENOTDIR";

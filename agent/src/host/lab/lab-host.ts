import { AgentError } from "../../errors.ts";
import type { Clock, ExecRequest, ExecResult, FileStat, Host } from "../../ports.ts";
import { systemClock } from "../../ports.ts";
import healthGate from "../health-gate.json" with { type: "json" };
import { isRegisteredProgram } from "../programs.ts";
import { LAB_COMMANDS, resolveLabCommand } from "./commands/index.ts";
import { withHealingCommands } from "./mutations/index.ts";
import type { LabCommand, LabJournalEntry, LabOutput } from "./registry.ts";
import type { LabFile, LabState } from "./state.ts";
import { LabState as LabStateSchema } from "./state.ts";
import { labStateVersion, readLabStateFile, writeLabStateFile } from "./state-file.ts";

export interface LabHostOptions {
  /** In-memory state (tests, benchmarks). */
  readonly state?: LabState;
  /** File-backed state: re-read whenever another process changes it (drift injection). */
  readonly stateFile?: string;
  readonly clock?: Clock;
  /** Where test-restore records are read (the backups check's restoreTestDir). */
  readonly restoreTestDir?: string;
  /** Extra or replacement emulators (the healer adds its mutating ones). */
  readonly commands?: Readonly<Record<string, LabCommand>>;
}

export interface LabHost extends Host {
  /** The current state (re-read from the file if it changed). */
  state(): LabState;
  /** Changes the state, and writes the file back when there is one. */
  update(mutate: (state: LabState) => void): void;
  /** Messages journald received (the canary lands here). */
  readonly journal: readonly LabJournalEntry[];
}

const JOURNAL_KEEP = 2000;

/**
 * A simulated NixOS appliance behind the Host port. Programs are emulators that print what the
 * real tools print; files are rendered from the state (the /run/*-system links, journald.conf,
 * /proc/loadavg, test-restore records) or taken from its `files`. Nothing on the machine the lab
 * runs on is read or changed.
 */
export function createLabHost(options: LabHostOptions): LabHost {
  const clock = options.clock ?? systemClock;
  const commands = withHealingCommands({ ...LAB_COMMANDS, ...options.commands });
  const file = options.stateFile;
  if (!file && !options.state) throw new Error("createLabHost needs state or stateFile");
  let current: LabState = options.state
    ? LabStateSchema.parse(options.state)
    : readLabStateFile(file as string);
  let version = file ? labStateVersion(file) : "";
  const journal: LabJournalEntry[] = [];

  const state = (): LabState => {
    if (!file) return current;
    const now = labStateVersion(file);
    if (now !== version) {
      current = readLabStateFile(file);
      version = now;
    }
    return current;
  };
  const update = (mutate: (s: LabState) => void) => {
    const next = structuredClone(state());
    mutate(next);
    current = LabStateSchema.parse(next);
    if (file) {
      writeLabStateFile(file, current);
      version = labStateVersion(file);
    }
  };

  const files = (): Map<string, LabFile> => renderFiles(state(), options.restoreTestDir);

  return {
    journal,
    state,
    update,
    macAddresses: () => [...state().macs],
    hostname: () => state().hostname,
    async exec(request) {
      return runLabCommand(request, {
        state: state(),
        clock,
        journal,
        update,
        resolve: (program) => resolveLabCommand(program, commands),
      });
    },
    async readFile(path, maxBytes) {
      const f = files().get(path);
      if (!f) return undefined;
      if (f.kind === "directory") {
        throw new AgentError("host_failure", `cannot read ${path}: it is a directory`);
      }
      if (f.kind === "symlink") return files().get(f.target)?.kind === "file" ? "" : undefined;
      return Buffer.from(f.content, "utf8").subarray(0, maxBytes).toString("utf8");
    },
    async stat(path): Promise<FileStat | undefined> {
      const f = files().get(path);
      if (!f) return undefined;
      const mtimeMs = Date.parse(f.mtime);
      if (f.kind === "symlink") {
        return { kind: "symlink", size: f.target.length, mode: 0o777, mtimeMs };
      }
      if (f.kind === "directory") return { kind: "directory", size: 4096, mode: f.mode, mtimeMs };
      return { kind: "file", size: Buffer.byteLength(f.content), mode: f.mode, mtimeMs };
    },
    async readlink(path) {
      const f = files().get(path);
      return f?.kind === "symlink" ? f.target : undefined;
    },
  };

  function runLabCommand(
    request: ExecRequest,
    env: {
      state: LabState;
      clock: Clock;
      journal: LabJournalEntry[];
      update: LabHost["update"];
      resolve: (program: string) => LabCommand | undefined;
    },
  ): Promise<ExecResult> {
    const [argv0, ...args] = request.argv;
    const program = argv0.slice(argv0.lastIndexOf("/") + 1);
    const { faults } = env.state;
    const command = env.resolve(program);
    // Only the registry's programs are on the appliance's PATH (agent/src/host/programs.json).
    if (!command || !isRegisteredProgram(argv0) || faults.missing.includes(program)) {
      return Promise.resolve({ kind: "not_found" });
    }
    if (request.signal?.aborted) return Promise.resolve({ kind: "failed", message: "aborted" });
    return new Promise<ExecResult>((resolve) => {
      let settled = false;
      const settle = (result: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const timer = setTimeout(() => settle({ kind: "timed_out" }), request.timeoutMs);
      const onAbort = () => settle({ kind: "failed", message: "aborted" });
      request.signal?.addEventListener("abort", onAbort, { once: true });
      if (faults.hang.includes(program)) return; // never answers: the timeout decides
      Promise.resolve()
        .then(() =>
          command(args, {
            program,
            state: env.state,
            now: env.clock.now(),
            stdin: request.stdin,
            journal: env.journal,
            update: env.update,
          }),
        )
        .then(
          (output) => {
            if (env.journal.length > JOURNAL_KEEP)
              env.journal.splice(0, env.journal.length - JOURNAL_KEEP);
            settle(capped(faults.garble.includes(program) ? garble(output) : output, request));
          },
          (error: unknown) => settle({ kind: "failed", message: `${program}: ${String(error)}` }),
        );
    });
  }
}

function capped(output: LabOutput, request: ExecRequest): ExecResult {
  const cut = (text: string) => {
    const bytes = Buffer.from(text, "utf8");
    return bytes.byteLength > request.maxOutputBytes
      ? { text: bytes.subarray(0, request.maxOutputBytes).toString("utf8"), cut: true }
      : { text, cut: false };
  };
  const out = cut(output.stdout);
  const err = cut(output.stderr ?? "");
  return {
    kind: "exited",
    code: output.code,
    stdout: out.text,
    stderr: err.text,
    truncated: out.cut || err.cut,
  };
}

/** What a tool printing corrupt output looks like: the first part of the real output, then junk. */
function garble(output: LabOutput): LabOutput {
  const half = output.stdout.slice(0, Math.floor(output.stdout.length / 2));
  return { ...output, stdout: `${half}\u0000<<garbled>>{[` };
}

function renderFiles(state: LabState, restoreTestDir: string | undefined): Map<string, LabFile> {
  const map = new Map<string, LabFile>(Object.entries(state.files));
  const generation = (n: number) => state.nixos.generations.find((g) => g.number === n);
  const current = generation(state.nixos.current);
  const booted = generation(state.nixos.booted);
  if (current) {
    map.set("/run/current-system", {
      kind: "symlink",
      target: current.system,
      mtime: current.created_at,
    });
    const profile = generation(state.healing.profile ?? current.number) ?? current;
    map.set("/nix/var/nix/profiles/system", {
      kind: "symlink",
      target: `system-${profile.number}-link`,
      mtime: profile.created_at,
    });
  }
  const good = generation(state.nixos.good ?? state.nixos.current);
  if (good) {
    map.set(healthGate.goodSystemRecord, {
      kind: "file",
      content: `${good.system}\n`,
      mode: 0o644,
      mtime: good.created_at,
    });
  }
  if (booted) {
    map.set("/run/booted-system", {
      kind: "symlink",
      target: booted.system,
      mtime: booted.created_at,
    });
  }
  for (const g of state.nixos.generations) {
    map.set(`/nix/var/nix/profiles/system-${g.number}-link`, {
      kind: "symlink",
      target: g.system,
      mtime: g.created_at,
    });
    map.set(g.system, { kind: "directory", mode: 0o555, mtime: "1970-01-01T00:00:01.000Z" });
  }
  const j = state.journald;
  const journaldConf = [
    "[Journal]",
    `Storage=${j.storage}`,
    "RateLimitInterval=30s",
    "RateLimitBurst=10000",
    ...(j.system_max_use ? [`SystemMaxUse=${j.system_max_use}`] : []),
    "",
  ].join("\n");
  map.set("/etc/systemd/journald.conf", {
    kind: "file",
    content: journaldConf,
    mode: 0o444,
    mtime: "1970-01-01T00:00:01.000Z",
  });
  if (j.persistent_dir) {
    map.set("/var/log/journal", {
      kind: "directory",
      mode: 0o2755,
      mtime: "1970-01-01T00:00:01.000Z",
    });
  }
  const { cpu } = state;
  map.set("/proc/loadavg", {
    kind: "file",
    content: `${cpu.load1.toFixed(2)} ${cpu.load5.toFixed(2)} ${cpu.load15.toFixed(2)} 1/231 4242\n`,
    mode: 0o444,
    mtime: "1970-01-01T00:00:01.000Z",
  });
  map.set("/sys/devices/system/cpu/online", {
    kind: "file",
    content: cpu.cores === 1 ? "0\n" : `0-${cpu.cores - 1}\n`,
    mode: 0o444,
    mtime: "1970-01-01T00:00:01.000Z",
  });
  // mm/swapfile.c swap_show: the header, then path padded to 40, type, size, used, priority.
  const swapLines = state.swaps.map((w) => {
    const pad = " ".repeat(w.device.length < 40 ? 40 - w.device.length : 1);
    const type = w.type === "partition" ? "partition" : "file\t";
    const tab = (n: number) => (n < 10_000_000 ? "\t" : "");
    return `${w.device}${pad}${type}\t${w.size_kb}\t${tab(w.size_kb)}${w.used_kb}\t${tab(w.used_kb)}${w.priority}\n`;
  });
  map.set("/proc/swaps", {
    kind: "file",
    content: `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${swapLines.join("")}`,
    mode: 0o444,
    mtime: "1970-01-01T00:00:01.000Z",
  });
  for (const w of state.swaps) {
    const dm = /^\/dev\/(dm-\d+)$/.exec(w.device)?.[1];
    if (dm && w.dm_uuid !== null) {
      map.set(`/sys/block/${dm}/dm/uuid`, {
        kind: "file",
        content: `${w.dm_uuid}\n`,
        mode: 0o444,
        mtime: "1970-01-01T00:00:01.000Z",
      });
    }
  }
  if (restoreTestDir) {
    for (const [job, backup] of Object.entries(state.backups)) {
      if (backup.restore_tests.length === 0) continue;
      const last = backup.restore_tests.at(
        -1,
      ) as LabState["backups"][string]["restore_tests"][number];
      map.set(`${restoreTestDir}/${job}.json`, {
        kind: "file",
        content: `${JSON.stringify({ job, runs: backup.restore_tests })}\n`,
        mode: 0o640,
        mtime: last.finished_at,
      });
    }
  }
  return map;
}

import { gzipSync } from "node:zlib";

/**
 * A reproducible .tar.gz: POSIX ustar entries (PAX `path` records for long names), sorted by
 * path, owner 0:0 with empty user and group names, one fixed mtime (SOURCE_DATE_EPOCH), modes
 * 0755 for executables and 0644 otherwise, and gzip with no name and a zero timestamp. The same
 * files therefore give the same bytes on any machine.
 */
export interface TarFile {
  readonly path: string;
  readonly data: Uint8Array;
  readonly executable?: boolean;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(
  name: string,
  prefix: string,
  size: number,
  mode: number,
  mtime: number,
  type: string,
) {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(type, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

function padded(data: Uint8Array): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [Buffer.from(data)] : [Buffer.from(data), Buffer.alloc(BLOCK - rest, 0)];
}

/** ustar's name/prefix split, or undefined when the path needs a PAX record. */
function split(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

export function tarGz(files: readonly TarFile[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of sorted) {
    const mode = f.executable ? 0o755 : 0o644;
    let names = split(f.path);
    if (!names) {
      const pax = Buffer.from(paxRecord("path", f.path), "utf8");
      parts.push(header("PaxHeader", "", pax.length, 0o644, mtime, "x"), ...padded(pax));
      names = { name: f.path.slice(-100).replace(/^[^/]*\//, ""), prefix: "" };
    }
    parts.push(
      header(names.name, names.prefix, f.data.length, mode, mtime, "0"),
      ...padded(f.data),
    );
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  // Node's gzip writes no file name and a zero mtime; the level is fixed.
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

import { closeSync, openSync, readSync } from "node:fs";

const CHUNK = 4 << 20;

/**
 * Calls `visit` with each line of a byte range of a file, split at LF (0x0A) only, as raw bytes
 * (a view into a reused buffer: valid only during the call). A CR before the LF stays in the
 * line (readline would swallow it, and a CRLF export would pass as canonical), and the last line
 * is visited even without its LF; `terminated` says whether it had one. Synchronous reads of
 * large chunks: no stream, no promise and no copy per line. `chunkDone` runs after the lines of
 * each chunk and before the buffer is reused.
 */
export function forEachLine(
  file: string,
  start: number,
  end: number,
  visit: (bytes: Buffer, terminated: boolean) => void,
  chunkDone?: () => void,
): void {
  const fd = openSync(file, "r");
  try {
    let buffer = Buffer.allocUnsafe(CHUNK);
    let filled = 0;
    let position = start;
    for (;;) {
      const want = Math.min(buffer.length - filled, end - position);
      const n = want > 0 ? readSync(fd, buffer, filled, want, position) : 0;
      position += n;
      filled += n;
      let from = 0;
      for (let nl = buffer.indexOf(10, 0); nl >= 0 && nl < filled; nl = buffer.indexOf(10, from)) {
        visit(buffer.subarray(from, nl), true);
        from = nl + 1;
      }
      if (n === 0) {
        if (from < filled) visit(buffer.subarray(from, filled), false);
        chunkDone?.();
        return;
      }
      chunkDone?.();
      // Keep the unfinished line; grow when one line fills the whole buffer.
      if (from === 0 && filled === buffer.length) {
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, filled);
        buffer = larger;
      } else {
        buffer.copy(buffer, 0, from, filled);
        filled -= from;
      }
    }
  } finally {
    closeSync(fd);
  }
}

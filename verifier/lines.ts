import { createReadStream } from "node:fs";

/**
 * The lines of a byte range of a file, split at LF (0x0A) only, as raw bytes. A CR before the
 * LF stays in the line (readline would swallow it, and a CRLF export would pass as canonical),
 * and the last line is yielded even without its LF; `terminated` says whether it had one.
 */
export async function* readLines(
  file: string,
  start = 0,
  end = Number.POSITIVE_INFINITY,
): AsyncGenerator<{ bytes: Buffer; terminated: boolean }> {
  const input = createReadStream(file, {
    start,
    ...(Number.isFinite(end) ? { end: end - 1 } : {}),
    highWaterMark: 1 << 20,
  });
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let from = 0;
    for (let nl = buffer.indexOf(10, from); nl >= 0; nl = buffer.indexOf(10, from)) {
      yield { bytes: buffer.subarray(from, nl), terminated: true };
      from = nl + 1;
    }
    rest = buffer.subarray(from);
  }
  if (rest.length > 0) yield { bytes: rest, terminated: false };
}

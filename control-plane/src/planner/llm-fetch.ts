/**
 * The fetch the model client uses: the body is read as a stream and cut off past `maxBytes`
 * (the connection is aborted, nothing more is buffered), and each request, body included, has
 * one deadline. The SDK's own timeout ends when the headers arrive; a server that then trickles
 * a body forever would otherwise hold a planning slot forever.
 */
export const TOO_LARGE = "the model server's response exceeds";

export class ResponseTooLarge extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`${TOO_LARGE} ${limit} bytes`);
    this.limit = limit;
    this.name = "ResponseTooLarge";
  }
}

export function cappedFetch(
  maxBytes: number,
  deadlineMs: number,
  base: typeof fetch = globalThis.fetch,
): typeof fetch {
  return async (input, init) => {
    const abort = new AbortController();
    const signals = [abort.signal, AbortSignal.timeout(deadlineMs)];
    if (init?.signal) signals.push(init.signal);
    const response = await base(input, { ...init, signal: AbortSignal.any(signals) });
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (declared > maxBytes) {
      abort.abort();
      throw new ResponseTooLarge(maxBytes);
    }
    if (!response.body) return response;
    const reader = response.body.getReader();
    let seen = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        seen += value.byteLength;
        if (seen > maxBytes) {
          abort.abort();
          void reader.cancel().catch(() => {});
          controller.error(new ResponseTooLarge(maxBytes));
          return;
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

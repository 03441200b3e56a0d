import { parentPort, workerData } from "node:worker_threads";
import { checkRange, type RangeTask } from "./bundle-check.ts";

// One worker thread checks one byte range of bundles.jsonl and hands back flat arrays.
const result = await checkRange(workerData as RangeTask);
const buffers = [result.seqs, result.status, result.hashes, result.prevs, result.leaves].map(
  (a) => a.buffer as ArrayBuffer,
);
parentPort?.postMessage(result, buffers);

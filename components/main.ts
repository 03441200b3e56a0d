import { runProgram } from "./program.ts";

/**
 * The Pulumi program entry (Pulumi.yaml `main`). Pulumi's Node.js host imports this module
 * (package.json has "type": "module") and awaits its default export; the values it resolves
 * to are the stack outputs. Node 24 runs the TypeScript directly (runtime option
 * `typescript: false`: no ts-node).
 */
export default runProgram;

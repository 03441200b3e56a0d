# How the agent runs on Bun: AGENT_BUN_FLAGS and AGENT_BUN_ENV in scripts/build-agent.ts (a test
# keeps them equal). JavaScriptCore without its JIT (BUN_JSC_useJIT=0) gives the lower peak RSS
# (bench/agent-core) and asks for no writable executable memory, which the unit's
# MemoryDenyWriteExecute=yes refuses; --smol collects more often for a smaller heap.
{
  flags = [ "--smol" ];
  env = {
    BUN_JSC_useJIT = "0";
  };
}

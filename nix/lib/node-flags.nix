# The V8 flags the agent runs with: AGENT_NODE_FLAGS in scripts/build-agent.ts (a test keeps the
# two equal). --jitless is what lets the unit set MemoryDenyWriteExecute=yes.
[
  "--max-semi-space-size=1"
  "--jitless"
  "--optimize-for-size"
]

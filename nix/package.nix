# packages.compliance-agent: the single-file agent bundle, bin/compliance-agent, and the catalog
# (baseline/ and runbooks/) the agent reads as catalog_dir. `runtime` picks what runs the bundle:
#   "bun"  (packages.compliance-agent): the pinned Bun (./bun.nix) with lib/bun-runtime.nix's
#          flags and environment (= AGENT_BUN_FLAGS, AGENT_BUN_ENV): the lower memory peak, see
#          docs/appliance.md, "The agent's runtime". Needs a CPU with AVX2.
#   "node" (packages.compliance-agent-node): nixpkgs' Node 24 (nodejs-slim: no npm or corepack;
#          node:sqlite and node:crypto are built in) with the V8 flags of lib/node-flags.nix
#          (= AGENT_NODE_FLAGS), for boxes without AVX2.
#
# The bundle is the committed agent/dist/agent.mjs (`npm run build:agent`); a test fails when it
# is not byte-for-byte what the sources build to. So a clean clone builds with no npm, no
# registry and no dependency hash in the Nix sandbox (docs/appliance.md says why).
{
  lib,
  stdenvNoCC,
  nodejs-slim_24,
  makeWrapper,
  callPackage,
  runtime ? "bun",
}:
let
  root = ../.;
  nodeFlags = import ./lib/node-flags.nix;
  bunRuntime = import ./lib/bun-runtime.nix;
  bun = callPackage ./bun.nix { };
  wrapperArgs =
    {
      bun = [
        "${bun}/bin/bun"
      ]
      ++ lib.concatMap (name: [
        "--set"
        name
        bunRuntime.env.${name}
      ]) (lib.attrNames bunRuntime.env)
      ++ [
        "--add-flags"
        (lib.concatStringsSep " " bunRuntime.flags)
      ];
      node = [
        "${nodejs-slim_24}/bin/node"
        "--add-flags"
        (lib.concatStringsSep " " nodeFlags)
      ];
    }
    .${runtime} or (throw "compliance-agent: runtime must be \"bun\" or \"node\", not ${runtime}");
in
stdenvNoCC.mkDerivation {
  pname = "compliance-agent";
  version = (lib.importJSON (root + "/package.json")).version;
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/agent/dist/agent.mjs")
      (root + "/baseline")
      (root + "/runbooks")
    ];
  };
  nativeBuildInputs = [ makeWrapper ];
  dontConfigure = true;
  dontBuild = true;

  installPhase = ''
    runHook preInstall
    install -Dm444 agent/dist/agent.mjs $out/lib/compliance-agent/agent.mjs
    mkdir -p $out/share/compliance-agent/catalog
    cp -r baseline runbooks $out/share/compliance-agent/catalog/
    makeWrapper ${lib.escapeShellArg (lib.head wrapperArgs)} $out/bin/compliance-agent \
      ${lib.escapeShellArgs (lib.tail wrapperArgs)} \
      --add-flags $out/lib/compliance-agent/agent.mjs
    runHook postInstall
  '';

  # The same smoke test as scripts/build-agent.test.ts: the bundle answers --help on its own.
  doInstallCheck = true;
  installCheckPhase = ''
    $out/bin/compliance-agent --help | grep -q '^compliance-agent '
  '';

  passthru = {
    catalogDir = "share/compliance-agent/catalog";
    inherit runtime;
  };

  meta = {
    description = "MSP compliance appliance agent (pull-only; signed, hash-chained evidence)";
    mainProgram = "compliance-agent";
    platforms = lib.platforms.linux;
  };
}

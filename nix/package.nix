# packages.compliance-agent: the single-file agent bundle run by nixpkgs' Node 24
# (nodejs-slim: no npm or corepack; node:sqlite and node:crypto are built in), bin/compliance-agent
# passing the agent's V8 flags (lib/node-flags.nix = AGENT_NODE_FLAGS), and the catalog
# (baseline/ and runbooks/) the agent reads as catalog_dir.
#
# The bundle is the committed agent/dist/agent.mjs (`npm run build:agent`); a test fails when it
# is not byte-for-byte what the sources build to. So a clean clone builds with no npm, no
# registry and no dependency hash in the Nix sandbox (docs/appliance.md says why).
{
  lib,
  stdenvNoCC,
  nodejs-slim_24,
  makeWrapper,
}:
let
  root = ../.;
  nodeFlags = import ./lib/node-flags.nix;
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
    makeWrapper ${nodejs-slim_24}/bin/node $out/bin/compliance-agent \
      --add-flags ${lib.escapeShellArg (lib.concatStringsSep " " nodeFlags)} \
      --add-flags $out/lib/compliance-agent/agent.mjs
    runHook postInstall
  '';

  # The same smoke test as scripts/build-agent.test.ts: the bundle answers --help on its own.
  doInstallCheck = true;
  installCheckPhase = ''
    $out/bin/compliance-agent --help | grep -q '^compliance-agent '
  '';

  passthru.catalogDir = "share/compliance-agent/catalog";

  meta = {
    description = "MSP compliance appliance agent (pull-only; signed, hash-chained evidence)";
    mainProgram = "compliance-agent";
    platforms = lib.platforms.linux;
  };
}

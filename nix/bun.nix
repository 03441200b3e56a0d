# Bun, the runtime the agent ships on (docs/appliance.md, "The agent's runtime"): the release the
# tests and benches run, the npm package @oven/bun-linux-x64 pinned in package.json. nixpkgs
# carries another version, so this takes Bun's own release archive. Its hash is of the unpacked
# archive (one file, `bun`), and that file is byte for byte the binary in the pinned npm package
# (Bun's release script copies it from this very archive): nix/ci/package.test.ts recomputes the
# hash from the npm package and fails when the two part.
#
# This build of Bun needs an x86-64 CPU with AVX2 (x86-64-v3); on an older box use the flake's
# compliance-agent-node package instead.
{
  lib,
  stdenvNoCC,
  fetchzip,
  autoPatchelfHook,
}:
let
  version = "1.4.5";
in
stdenvNoCC.mkDerivation {
  pname = "bun";
  inherit version;
  src = fetchzip {
    url = "https://github.com/oven-sh/bun/releases/download/bun-v${version}/bun-linux-x64.zip";
    hash = "sha256-WCYOHQDhVan4VY5fXl1miwZQ3hNxCUnMeutJdXx0kFY=";
    # The mode the npm package gives it, whatever the archive recorded.
    postFetch = "chmod 0755 $out/bun";
  };
  strictDeps = true;
  nativeBuildInputs = [ autoPatchelfHook ];
  dontConfigure = true;
  dontBuild = true;

  installPhase = ''
    runHook preInstall
    install -Dm755 bun $out/bin/bun
    runHook postInstall
  '';

  doInstallCheck = true;
  installCheckPhase = ''
    [ "$($out/bin/bun --version)" = ${lib.escapeShellArg version} ]
  '';

  meta = {
    description = "Bun JavaScript runtime (the release the agent is tested on)";
    homepage = "https://bun.com";
    license = with lib.licenses; [
      mit
      lgpl21Only
    ];
    sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
    mainProgram = "bun";
    platforms = [ "x86_64-linux" ];
  };
}

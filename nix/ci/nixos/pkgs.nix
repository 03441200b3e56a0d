# Stub packages for evaluating NixOS modules without nixpkgs: every package is a derivation-shaped
# attribute set with a fixed store path (nothing is built), and the few builders the modules call
# return such a stub. `bins` records which programs each stub package provides, so the evaluator
# can check that every program a unit runs is found on that unit's PATH.
{ lib }:
let
  hash = name: builtins.substring 0 32 (builtins.hashString "sha256" name);
  drv =
    name: extra:
    let
      self = {
        type = "derivation";
        inherit name;
        pname = name;
        version = "0";
        outPath = "/nix/store/${hash name}-${name}";
        drvPath = "/nix/store/${hash "drv-${name}"}-${name}.drv";
        outputs = [ "out" ];
        outputName = "out";
        out = self;
        bin = self;
        lib = self;
        dev = self;
        man = self;
        meta = {
          mainProgram = name;
          platforms = lib.platforms.linux;
        };
        passthru = { };
        # What the package puts in bin/ (see `bins` below); the evaluator's report lists it per
        # store path so CI can lay out a root with these programs for systemd-analyze.
        bins = bins.${name} or [ ];
        override = _: self;
        overrideAttrs = _: self;
        withPackages = _: self;
      }
      // extra;
    in
    self;

  # What each stub package puts in bin/: the registry of programs the agent runs is checked
  # against this (the real nixpkgs packages ship these programs in bin/).
  bins = import ./package-bins.nix;

  plain = builtins.mapAttrs (name: _: drv name { }) bins // {
    # The switches NixOS's systemd module reads from its package (nixpkgs' defaults).
    systemd = drv "systemd" (
      lib.genAttrs [
        "withBootloader" "withCryptsetup" "withEfi" "withHostnamed" "withImportd" "withLocaled"
        "withMachined" "withNspawn" "withPortabled" "withRepart" "withTimedated" "withTpm" "withUtmp"
      ] (_: true)
      // {
        util = drv "systemd-util" { };
        util-linux = drv "util-linux" { };
        kmod = drv "kmod" { };
      }
    );
    openssh = drv "openssh" { withKerberos = false; };
  };

  text = name: drv name { };
in
lib.fix (self: plain
// {
  inherit bins;
  system = "x86_64-linux";
  stdenv = {
    hostPlatform = lib.systems.elaborate "x86_64-linux";
    buildPlatform = lib.systems.elaborate "x86_64-linux";
    isLinux = true;
    cc = drv "gcc" { };
    mkDerivation =
      a:
      drv (a.pname or a.name) {
        passthru = a.passthru or { };
        bins = lib.optional (a ? meta.mainProgram) a.meta.mainProgram;
      }
      // (a.passthru or { })
      // {
        meta = a.meta or { };
      };
  };
  stdenvNoCC = self.stdenv;
  hostPlatform = lib.systems.elaborate "x86_64-linux";
  buildPackages = plain;
  writeText = name: _: text name;
  writeTextFile = a: text a.name;
  writeTextDir = name: _: text name;
  writeScript = name: _: text name;
  writeScriptBin = name: _: drv name { bins = [ name ]; };
  writeShellScript = name: _: text name;
  writeShellScriptBin = name: _: drv name { bins = [ name ]; };
  writeShellApplication = a: drv a.name { bins = [ a.name ]; };
  writeClosure = _: text "closure";
  writers = {
    writeBash = name: _: text name;
    writePython3 = name: _: _: text name;
  };
  runCommand = name: _: _: text name;
  runCommandLocal = name: _: _: text name;
  runCommandNoCC = name: _: _: text name;
  symlinkJoin = a: text a.name;
  buildEnv = a: text a.name;
  linkFarm = name: _: text name;
  substituteAll = a: text (a.name or "substituted");
  replaceVars = src: _: text "replaced";
  concatText = name: _: text name;
  makeWrapper = drv "make-wrapper" { };
  autoPatchelfHook = drv "auto-patchelf-hook" { };
  fetchzip = a: text "source";
  callPackage =
    f: args:
    let
      fn = if builtins.isFunction f then f else import f;
    in
    fn (builtins.intersectAttrs (builtins.functionArgs fn) (self // { inherit lib; }) // args);
  formats = {
    ini = _: { type = lib.types.attrsOf (lib.types.attrsOf lib.types.anything); generate = name: _: text name; };
    iniWithGlobalSection = _: { type = lib.types.attrsOf lib.types.anything; generate = name: _: text name; };
    keyValue = _: { type = lib.types.attrsOf lib.types.anything; generate = name: _: text name; };
    json = _: { type = lib.types.anything; generate = name: _: text name; };
    yaml = _: { type = lib.types.anything; generate = name: _: text name; };
    toml = _: { type = lib.types.anything; generate = name: _: text name; };
    systemd = _: { type = lib.types.attrsOf lib.types.anything; generate = name: _: text name; };
  };
  linuxPackages = { };
  path = toString ./fake-nixpkgs;
  srcOnly = p: p;
  inherit drv;
})

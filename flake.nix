{
  description = "MSP Compliance Platform: the appliance agent, its NixOS module, the hardened appliance and its installer ISO";

  # Pin with `nix flake lock` on a machine with network and commit flake.lock (see
  # docs/appliance.md): nixos-26.05 (supported until the end of 2026) carries Node 24
  # (nodejs-slim_24). docs/appliance.md says how and when to move to 26.11.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
  # Secrets a site's configuration carries encrypted (SOPS), decrypted on the appliance at
  # activation (docs/appliance.md, "Secrets").
  inputs.sops-nix.url = "github:Mic92/sops-nix";
  inputs.sops-nix.inputs.nixpkgs.follows = "nixpkgs";

  outputs =
    {
      self,
      nixpkgs,
      sops-nix,
    }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      # One appliance per site: its values come from the operator's Pulumi stack outputs.
      siteDir = ./nix/sites;
      site = builtins.fromJSON (builtins.readFile ./nix/sites/example.json);

      mkAppliance =
        { site, siteDir }:
        nixpkgs.lib.nixosSystem {
          inherit system;
          modules = [
            self.nixosModules.compliance-agent
            sops-nix.nixosModules.sops
            (import ./nix/appliance.nix { inherit site siteDir; })
            { services.compliance-agent.package = self.packages.${system}.compliance-agent; }
          ];
        };
    in
    {
      packages.${system} = {
        # The agent on the pinned Bun (the lower memory peak; needs AVX2), and the same bundle on
        # Node 24 for boxes without AVX2 (docs/appliance.md, "The agent's runtime").
        compliance-agent = pkgs.callPackage ./nix/package.nix { };
        compliance-agent-node = pkgs.callPackage ./nix/package.nix { runtime = "node"; };
        default = self.packages.${system}.compliance-agent;
        appliance-iso = self.nixosConfigurations.appliance-installer.config.system.build.isoImage;
      };

      # Nix 2.8's flake check wants a function here, not a path.
      nixosModules.compliance-agent = import ./nix/module.nix;
      nixosModules.default = self.nixosModules.compliance-agent;

      nixosConfigurations.appliance = mkAppliance { inherit site siteDir; };
      nixosConfigurations.appliance-installer = nixpkgs.lib.nixosSystem {
        inherit system;
        modules = [
          "${nixpkgs}/nixos/modules/installer/cd-dvd/installation-cd-minimal.nix"
          (import ./nix/iso.nix { appliance = self.nixosConfigurations.appliance; })
        ];
      };

      checks.${system} = import ./nix/tests { inherit pkgs self; } // {
        compliance-agent = self.packages.${system}.compliance-agent;
        compliance-agent-node = self.packages.${system}.compliance-agent-node;
        appliance = self.nixosConfigurations.appliance.config.system.build.toplevel;
      };

      # The pure rendering functions the module uses (builtins only), and the per-site builder.
      lib = import ./nix/lib // {
        inherit mkAppliance;
      };
    };
}

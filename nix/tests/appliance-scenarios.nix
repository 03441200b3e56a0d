# One VM test per scenario: the real agent service (the module's units, sandbox, nftables and
# privileged helper) against the agent's test control plane (scenario-control-plane.ts), which
# runs inside the same VM on loopback and writes the evidence it received to
# /run/scenario/bundles.json for the assertions below.
{ pkgs, self }:
name:
let
  inherit (pkgs) lib;
  # TEST ONLY: the public half of TEST_ORDER_KEY_SEED in scenario-control-plane.ts (a test keeps
  # the two equal).
  testOrderPublicKey = "DXVQdU4IAKXSN+71gmA1dmubPloVhoqUCrKJlYeI47A=";

  # The committed bundle of scenario-control-plane.ts (npm run nix:vm-driver; a test keeps it
  # fresh): no npm in the sandbox.
  driver = ./dist/scenario-control-plane.mjs;

  agentModule =
    { lib, ... }:
    {
      imports = [ self.nixosModules.compliance-agent ];
      services.compliance-agent = {
        enable = true;
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.compliance-agent;
        siteId = "vm-test";
        # The test PKI's server certificate names localhost and 127.0.0.1.
        controlPlaneUrl = "https://localhost:8443";
        controlPlanePublicKey = testOrderPublicKey;
        caFile = "/run/scenario/ca.pem";
        mode = "enforce";
        maintenanceWindow = {
          days = [ "mon" "tue" "wed" "thu" "fri" "sat" "sun" ];
          start = "00:00";
          durationMinutes = 1440;
          timeZone = "UTC";
        };
        pollInterval = 5;
        jitter = 0.1;
        checkInterval = 30;
        egressAllowlist = [
          {
            address = "127.0.0.1";
            protocol = "tcp";
            ports = [ 8443 ];
            purpose = "control-plane";
          }
          # QEMU's user network: its resolver and (unanswered) time service.
          {
            address = "10.0.2.3";
            protocol = "udp";
            ports = [ 53 ];
            purpose = "dns";
          }
          {
            address = "10.0.2.2";
            protocol = "tcp";
            ports = [ 4460 ];
            purpose = "ntp";
          }
          {
            address = "10.0.2.2";
            protocol = "udp";
            ports = [ 123 ];
            purpose = "ntp";
          }
        ];
      };
      services.openssh.enable = true;
      # The agent starts once the scenario's CA exists (testScript below).
      systemd.units."compliance-agent.service".wantedBy = lib.mkForce [ ];
      systemd.services.scenario-control-plane = {
        description = "VM test control plane (${name})";
        serviceConfig = {
          ExecStart = "${pkgs.nodejs-slim_24}/bin/node ${driver} ${name} /run/scenario";
        };
      };
      environment.systemPackages = [ pkgs.jq ];
    };

  # rebuild-failure: the generation the control plane expects fails its health gate (chronyd
  # cannot start), so the runbook's switch is followed by a rollback.
  brokenSystem =
    (import "${pkgs.path}/nixos/lib/eval-config.nix" {
      system = pkgs.stdenv.hostPlatform.system;
      modules = [
        agentModule
        (
          { lib, ... }:
          {
            boot.loader.grub.enable = false;
            fileSystems."/".device = "/dev/vda";
            systemd.services.chronyd.serviceConfig.ExecStart = lib.mkForce [
              ""
              "${pkgs.coreutils}/bin/false"
            ];
          }
        )
      ];
    }).config.system.build.toplevel;

  perScenario = {
    bad-signature = {
      node = { };
      script = ''
        wait_for_evidence(lambda e: e["kind"] == "order_rejected" and e["outcome"] == "rejected")
        machine.succeed("systemctl is-active compliance-agent.service")
      '';
    };
    expired-ttl = {
      node = { };
      script = ''
        wait_for_evidence(lambda e: e["kind"] == "order_rejected" and e["outcome"] == "expired")
      '';
    };
    control-plane-down = {
      node = { };
      script = ''
        # Down for 60 s: nothing arrives, the agent keeps running and queues.
        machine.sleep(30)
        assert evidence()["bundles"] == [], "evidence arrived while the control plane was down"
        machine.succeed("systemctl is-active compliance-agent.service")
        # Back up: the queue flushes in order and every bundle is receipted.
        wait_for_evidence(lambda e: e["kind"] == "agent_lifecycle" and e["event"] == "started")
        machine.wait_until_succeeds(
            "jq -e '.receipts > 0 and (.bundles | length) > 1' /run/scenario/bundles.json", timeout=120
        )
        seqs = [b["seq"] for b in evidence()["bundles"]]
        assert seqs == list(range(1, len(seqs) + 1)), f"gap in flushed evidence: {seqs}"
      '';
    };
    rebuild-failure = {
      node = {
        services.compliance-agent.expectedSystem = "${brokenSystem}";
        virtualisation.additionalPaths = [ brokenSystem ];
      };
      script = ''
        before = machine.succeed("readlink -f /run/current-system").strip()
        # The patching check sees the mismatch; the L1 rule runs RB-PATCH-001-generation, the
        # switch to the broken system fails, and the runner puts the previous generation back.
        wait_for_evidence(
            lambda e: e["kind"] == "healing_attempt"
            and e.get("runbook_id") == "RB-PATCH-001-generation"
            and e["outcome"] == "reverted"
        )
        after = machine.succeed("readlink -f /run/current-system").strip()
        assert after == before, f"not rolled back: {after} != {before}"
      '';
    };
    dns-failure = {
      node =
        { lib, ... }:
        {
          # The control plane's name stops resolving in this specialisation.
          specialisation.no-dns.configuration = {
            networking.hosts = lib.mkForce { };
            system.nssDatabases.hosts = lib.mkForce [
              "files"
              "dns"
            ];
            networking.nameservers = lib.mkForce [ ];
          };
        };
      script = ''
        wait_for_evidence(lambda e: e["kind"] == "agent_lifecycle" and e["event"] == "started")
        machine.succeed("/run/current-system/specialisation/no-dns/bin/switch-to-configuration test")
        machine.fail("getent hosts localhost")
        machine.sleep(60)
        machine.succeed("systemctl is-active compliance-agent.service")
        machine.succeed("/run/current-system/bin/switch-to-configuration test")
        # The alert recorded while the name did not resolve arrives once it does again.
        wait_for_evidence(lambda e: e["kind"] == "alert" and e["code"] == "control_plane_unreachable")
      '';
    };
  };
  chosen = perScenario.${name};
in
pkgs.testers.runNixOSTest {
  name = "compliance-agent-${name}";
  # For nix/ci/nixos/targets.nix, which evaluates the broken generation on its own.
  passthru = { inherit brokenSystem; };
  nodes.machine = {
    imports = [
      agentModule
      chosen.node
    ];
  };
  testScript = ''
    import json

    def evidence():
        return json.loads(machine.succeed("cat /run/scenario/bundles.json"))

    def wait_for_evidence(predicate, timeout=300):
        def found(_):
            return any(predicate(b["event"]) for b in evidence()["bundles"])
        with machine.nested("waiting for evidence"):
            retry(found, timeout)

    machine.wait_for_unit("multi-user.target")
    machine.succeed("systemctl start scenario-control-plane.service")
    machine.wait_for_file("/run/scenario/ready")
    machine.succeed("systemctl start compliance-agent.service")
    machine.wait_for_unit("compliance-agent.service")
    # The sandbox is in force: the agent runs unprivileged and the output chain drops by default.
    machine.succeed("systemctl show -p User --value compliance-agent.service | grep -qx compliance-agent")
    machine.succeed("nft list chain inet compliance output | grep -q 'policy drop'")
    machine.wait_until_succeeds("jq -e '.enrollments > 0' /run/scenario/bundles.json", timeout=120)
  ''
  + chosen.script;
}

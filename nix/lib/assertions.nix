# Impossible combinations of services.compliance-agent options, as NixOS assertions
# ({ assertion; message; }). Pure: builtins only, so CI evaluates them on bad settings and shows
# each one fires. Checks that need the rest of the NixOS configuration (restic jobs, LUKS
# devices, swap) live in the module beside these.
s:
let
  hasPurpose = purpose: builtins.any (e: e.purpose == purpose) s.egressAllowlist;
  allows =
    purpose: protocol: port:
    builtins.any (
      e: e.purpose == purpose && e.protocol == protocol && builtins.elem port e.ports
    ) s.egressAllowlist;
  isAddress = x: builtins.match "[0-9a-fA-F.:]+" x != null;
  w = s.maintenanceWindow;
  isStore = path: builtins.match "/nix/store/.*" path != null;
in
[
  {
    assertion = builtins.match "https://[^/?#]+/?" s.controlPlaneUrl != null;
    message = "services.compliance-agent.controlPlaneUrl must be https://host[:port] without a path, query or fragment (got ${s.controlPlaneUrl}).";
  }
  {
    assertion = builtins.match "[A-Za-z0-9+/]{43}=" s.controlPlanePublicKey != null;
    message = "services.compliance-agent.controlPlanePublicKey must be the control plane's raw 32-byte Ed25519 order key in base64 (44 characters ending in '=').";
  }
  {
    assertion = !(s.mode == "enforce" && s.catalogDir == null);
    message = "services.compliance-agent.mode = \"enforce\" needs a catalog (catalogDir): without runbooks there is nothing the agent may run. Keep the package's catalog or use mode = \"audit\".";
  }
  {
    assertion = !(s.mode == "enforce" && !s.privilegedHelper.enable);
    message = "services.compliance-agent.mode = \"enforce\" needs privilegedHelper.enable: every healing action that changes the host runs through it.";
  }
  {
    assertion = w == null || w.days != [ ];
    message = "services.compliance-agent.maintenanceWindow.days is empty: a window on no day never opens. Name at least one day, or set maintenanceWindow = null.";
  }
  {
    assertion = w == null || builtins.match "([01][0-9]|2[0-3]):[0-5][0-9]" w.start != null;
    message = "services.compliance-agent.maintenanceWindow.start must be 24-hour HH:MM, for example \"02:00\".";
  }
  {
    assertion = w == null || (w.durationMinutes >= 15 && w.durationMinutes <= 1440);
    message = "services.compliance-agent.maintenanceWindow.durationMinutes must be between 15 and 1440.";
  }
  {
    assertion = !s.firewall.enable || hasPurpose "control-plane";
    message = "services.compliance-agent.egressAllowlist has no entry with purpose = \"control-plane\" while the egress firewall is on and controlPlaneUrl is ${s.controlPlaneUrl}: the agent could never reach it. Add the control plane's addresses.";
  }
  {
    # The resolver is the allowlisted DNS server (networking.nameservers), not the one the
    # clinic's DHCP hands out, which the egress chain would drop.
    assertion = !s.firewall.enable || allows "dns" "udp" 53;
    message = "services.compliance-agent.egressAllowlist has no DNS server (purpose = \"dns\", UDP 53) while the egress firewall is on: the appliance resolves names only through it (networking.nameservers). Add the resolver the site may use.";
  }
  {
    # chrony resolves the time servers' names through that DNS server, then speaks NTS-KE (TCP
    # 4460) and NTP (UDP 123) to the addresses; the allowlist holds addresses only.
    assertion = !s.firewall.enable || (allows "ntp" "tcp" 4460 && allows "ntp" "udp" 123);
    message = "services.compliance-agent.timeServers (${builtins.concatStringsSep ", " s.timeServers}) need egressAllowlist entries with purpose = \"ntp\" for TCP 4460 (NTS-KE) and UDP 123 (NTP) at the addresses those names resolve to.";
  }
  {
    assertion = !s.firewall.enable || builtins.all (t: !(isAddress t) || builtins.any (e: e.purpose == "ntp" && e.address == t) s.egressAllowlist) s.timeServers;
    message = "services.compliance-agent.timeServers gives an address that no egressAllowlist entry with purpose = \"ntp\" allows.";
  }
  {
    assertion = s.enrollmentTokenFile == null || !isStore s.enrollmentTokenFile;
    message = "services.compliance-agent.enrollmentTokenFile points into the Nix store, which every user can read. Give a root-only path outside it (the unit hands the agent a copy as a systemd credential).";
  }
  {
    assertion = s.jitter == null || (s.jitter >= 0 && s.jitter <= 0.5);
    message = "services.compliance-agent.jitter must be between 0 and 0.5 (0.1 = ±10 %).";
  }
  {
    assertion = builtins.match "/var/lib/[A-Za-z0-9._-]+" s.stateDir != null;
    message = "services.compliance-agent.stateDir must be one folder under /var/lib (systemd's StateDirectory=), not ${s.stateDir}.";
  }
]

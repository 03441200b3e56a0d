# The appliance's whole firewall as one nftables ruleset (baseline hipaa-v1 toggles
# firewall-inbound-default-drop, firewall-egress-allowlist and ssh-management-network-only).
# Pure: builtins only. The module loads this text through networking.nftables.ruleset, the
# privileged helper reloads the same file for nftables.restore_baseline, and CI checks it with
# `nft -c -f` and in a network namespace.
#
# Egress is host-wide: the output chain drops everything not allowlisted. Rules never match a
# user (`meta skuid`): a DynamicUser's name does not exist when the ruleset loads and nft refuses
# it. Which process may use which allowlisted address is narrowed per unit with systemd's
# IPAddressAllow/IPAddressDeny instead (see units.nix).
s:
let
  concat = builtins.concatStringsSep;
  isV6 = address: builtins.match ".*:.*" address != null;
  validAddress =
    address:
    builtins.match "[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?" address != null
    || builtins.match "[0-9a-fA-F:]+(/[0-9]{1,3})?" address != null && isV6 address;
  checked =
    what: address:
    if validAddress address then
      address
    else
      throw "services.compliance-agent: ${what} '${address}' is not an IPv4/IPv6 address or CIDR";
  family = address: if isV6 address then "ip6" else "ip";
  quote = text: "\"${builtins.replaceStrings [ "\"" "\\" ] [ "" "" ] text}\"";

  egressRule =
    entry:
    let
      address = checked "egress address" entry.address;
      ports = concat ", " (map toString entry.ports);
    in
    if entry.ports == [ ] then
      throw "services.compliance-agent: egress entry ${entry.address} needs at least one port"
    else if entry.protocol != "tcp" && entry.protocol != "udp" then
      throw "services.compliance-agent: egress entry ${entry.address}: protocol must be tcp or udp"
    else
      "${family address} daddr ${address} ${entry.protocol} dport { ${ports} } accept comment ${quote entry.purpose}";

  sshRule =
    network:
    let
      address = checked "management network" network;
    in
    "${family address} saddr ${address} tcp dport 22 accept comment \"ssh from the management network\"";

  lines = indent: rules: concat "\n" (map (rule: "${indent}${rule}") rules);

  # Neighbour discovery keeps IPv6 working at all; DHCP keeps the lease (the client's first
  # DISCOVER goes through a packet socket, which the inet hooks do not see).
  neighbourDiscovery = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept";
in
''
  # Rendered by nix/lib/nftables.nix (services.compliance-agent). Baseline hipaa-v1.
  flush ruleset

  table inet compliance {
    chain input {
      type filter hook input priority filter; policy drop;
      iifname "lo" accept
      ct state invalid drop
      ct state established,related accept
      ${neighbourDiscovery}
      icmp type { echo-request, destination-unreachable, time-exceeded } accept
      udp sport 67 udp dport 68 accept comment "dhcp"
  ${lines "    " (map sshRule s.firewall.managementNetworks)}
    }

    chain forward {
      type filter hook forward priority filter; policy drop;
    }

    chain output {
      type filter hook output priority filter; policy drop;
      oifname "lo" accept
      ct state invalid drop
      ct state established,related accept
      ${neighbourDiscovery}
      udp sport 68 udp dport 67 accept comment "dhcp"
  ${lines "    " (map egressRule s.egressAllowlist)}
    }
  }
''

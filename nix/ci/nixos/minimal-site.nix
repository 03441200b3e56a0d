# The least a site gives services.compliance-agent (the evaluator's module-minimal target; the
# negative tests derive their variants from it). RFC 5737 documentation addresses.
{
  siteId = "minimal-site";
  controlPlaneUrl = "https://cp.example.net";
  controlPlanePublicKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  egressAllowlist = [
    {
      address = "192.0.2.10";
      ports = [ 443 ];
      purpose = "control-plane";
    }
    {
      address = "192.0.2.53";
      protocol = "udp";
      ports = [ 53 ];
      purpose = "dns";
    }
    {
      address = "192.0.2.123";
      ports = [ 4460 ];
      purpose = "ntp";
    }
    {
      address = "192.0.2.123";
      protocol = "udp";
      ports = [ 123 ];
      purpose = "ntp";
    }
  ];
  breakglassKeys = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBreakGlassTestKeyOnly000000000000000000 msp" ];
}

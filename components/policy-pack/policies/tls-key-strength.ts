import { resourcePolicy } from "./types.ts";

const CURVES = ["P256", "P384", "P521"];

/** tls.PrivateKey: ECDSA defaults to P-224 and RSA to 2048 bits; both are refused. */
export const tlsKeyStrength = resourcePolicy({
  name: "tls-key-strength",
  description:
    "TLS private keys are Ed25519, ECDSA on P-256 or stronger (never the provider's P-224 default), or RSA of at least 3072 bits.",
  check(args, report) {
    if (args.type !== "tls:index/privateKey:PrivateKey") return;
    const { algorithm, ecdsaCurve, rsaBits } = args.props as {
      algorithm?: string;
      ecdsaCurve?: string;
      rsaBits?: number;
    };
    if (algorithm === "ED25519") return;
    if (algorithm === "ECDSA") {
      if (!CURVES.includes(ecdsaCurve ?? "P224")) {
        report(
          `ECDSA on ${ecdsaCurve ?? "P224 (the default)"}; set ecdsaCurve: "P256" or use ED25519`,
        );
      }
      return;
    }
    if (algorithm === "RSA") {
      if ((rsaBits ?? 2048) < 3072)
        report(`RSA with ${rsaBits ?? 2048} bits; use at least 3072, or ED25519`);
      return;
    }
    report(`unknown key algorithm ${String(algorithm)}`);
  },
});

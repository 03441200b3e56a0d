export { createSecretBox, type SecretBox } from "./secret-box.ts";
export {
  type CertificateAuthority,
  certificateFingerprint,
  checkCertificateAuthority,
  createCertificateAuthority,
  createClientCsr,
  csrKeyFingerprint,
  fingerprintOfPem,
  isIssuedBy,
  issueServerCertificate,
  signClientCsr,
} from "./x509.ts";

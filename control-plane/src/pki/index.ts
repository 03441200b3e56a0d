export { createSecretBox, type SecretBox } from "./secret-box.ts";
export {
  type CertificateAuthority,
  CsrError,
  certificateFingerprint,
  checkCertificateAuthority,
  createCertificateAuthority,
  createClientCsr,
  fingerprintOfPem,
  isIssuedBy,
  issueServerCertificate,
  signClientCsr,
} from "./x509.ts";

import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { certificateFingerprint, isIssuedBy } from "../../pki/index.ts";
import type { Store } from "../../store/index.ts";

/**
 * mTLS identity for appliance routes. The TLS listener asks for a client certificate but does
 * not reject (so enrollment works on the same port); this middleware decides, on EVERY request,
 * because a resumed TLS session skips certificate re-validation:
 * 1. a client certificate must be present (401);
 * 2. its SHA-256 fingerprint must be bound to an appliance (401) that is active, not
 *    revoked (403): the binding is what we issued at enrollment;
 * 3. it must still be signed by that appliance's tenant CA and within its validity (403);
 *    cached per fingerprint for the signature, dates checked each time.
 * The tenant and appliance identity then come from the binding, never from the body.
 */
export function applianceIdentity(
  store: Store,
  now: () => Date,
  peerCertificate: (env: unknown) => Uint8Array | undefined = nodePeerCertificate,
) {
  // fingerprint → validity window, once its signature by the tenant CA has been verified.
  const verified = new Map<string, { tenantId: string; notBefore: number; notAfter: number }>();
  return createMiddleware<AppEnv>(async (c, next) => {
    const der = peerCertificate(c.env);
    if (!der || der.byteLength === 0) {
      throw new ControlPlaneError("unauthenticated", "a client certificate is required");
    }
    const fingerprint = fingerprintOf(der);
    const appliance = await store.findByCertFingerprint(fingerprint);
    if (!appliance) {
      throw new ControlPlaneError("unauthenticated", "the client certificate is not enrolled");
    }
    if (appliance.status !== "active") {
      throw new ControlPlaneError("forbidden", "the appliance is not active");
    }
    let known = verified.get(fingerprint);
    if (known?.tenantId !== appliance.tenantId) {
      const tenant = await store.getTenant(appliance.tenantId);
      if (!tenant || !isIssuedBy(der, tenant.caCertPem, now())) {
        throw new ControlPlaneError(
          "forbidden",
          "the client certificate is not valid for its tenant",
        );
      }
      const cert = new X509Certificate(der);
      known = {
        tenantId: appliance.tenantId,
        notBefore: Date.parse(cert.validFrom),
        notAfter: Date.parse(cert.validTo),
      };
      if (verified.size > 200_000) verified.clear();
      verified.set(fingerprint, known);
    }
    const t = now().getTime();
    if (t < known.notBefore || t > known.notAfter) {
      throw new ControlPlaneError("forbidden", "the client certificate is outside its validity");
    }
    c.set("appliance", appliance);
    await next();
  });
}

/**
 * Reads the peer certificate from @hono/node-server's bindings (an HTTPS TLS socket), as DER.
 * getPeerX509Certificate, not getPeerCertificate: the latter builds a legacy object with every
 * field parsed and three fingerprints hashed on each call (measured about 17 times the CPU per
 * call), on every request of a kept-alive connection; the DER is all this middleware reads.
 */
export function nodePeerCertificate(env: unknown): Uint8Array | undefined {
  const socket = (env as { incoming?: { socket?: Partial<TLSSocket> } } | undefined)?.incoming
    ?.socket;
  if (!socket || typeof socket.getPeerX509Certificate !== "function") return undefined;
  // The peer certificate of a connection cannot change once the handshake is done (the server
  // refuses renegotiation, server.ts): read it once per connection, not once per request.
  const cached = peerOfSocket.get(socket);
  if (cached) return cached;
  const cert = socket.getPeerX509Certificate();
  if (!cert) return undefined;
  const der = new Uint8Array(cert.raw);
  peerOfSocket.set(socket, der);
  return der;
}

const peerOfSocket = new WeakMap<object, Uint8Array>();
/** Fingerprints of the certificates read above, per DER object: hashed once per connection. */
const fingerprintOfDer = new WeakMap<Uint8Array, string>();

function fingerprintOf(der: Uint8Array): string {
  let fingerprint = fingerprintOfDer.get(der);
  if (fingerprint === undefined) {
    fingerprint = certificateFingerprint(der);
    fingerprintOfDer.set(der, fingerprint);
  }
  return fingerprint;
}

/**
 * X.509 path checking for attestation statements and the FIDO metadata blob, at a time we
 * pass in (never the wall clock) and against anchors we pass in (never process-wide state).
 *
 * Why not SimpleWebAuthn's validateCertificatePath: it returns `true` when given no anchors
 * ("skip path validation", fido-oidc.md §4.1 "verified ≠ trusted"), reads `new Date()`, and
 * fetches CRLs over the network, failing open. Here an empty anchor list means "untrusted".
 * CRLs are not fetched (air-gapped deployments); MDS status reports carry revocation.
 */
import { x509, type X509Certificate } from '../../pki/x509.ts';

/** A longer x5c than this is not a real attestation or MDS chain. */
export const MAX_CHAIN_LENGTH = 5;

export function parseCertificate(input: string | Uint8Array): X509Certificate {
  return new x509.X509Certificate(typeof input === 'string' ? input : Uint8Array.from(input));
}

/** Parses base64 DER strings (MDS `attestationRootCertificates`, JWS `x5c`); skips junk. */
export function parseBase64Certificates(values: readonly string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const value of values) {
    try {
      out.push(parseCertificate(Buffer.from(value, 'base64')));
    } catch {
      // An unparsable root is not an anchor; the rest still count.
    }
  }
  return out;
}

function validAt(cert: X509Certificate, at: Date): boolean {
  return cert.notBefore.getTime() <= at.getTime() && at.getTime() <= cert.notAfter.getTime();
}

function isCa(cert: X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

async function signedBy(cert: X509Certificate, issuer: X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * True when `chain` (leaf first, as in x5c) is a valid path to one of `anchors` at `at`:
 * every certificate is in its validity window, each is signed by the next, every issuer is a
 * CA, and the last one either is an anchor (byte-identical, e.g. an MDS statement that lists
 * the batch certificate itself) or is signed by an anchor that is itself valid at `at`.
 * A self-signed certificate that is not an anchor never passes (GHSA-6hxq-p678-4hr2).
 */
export async function chainsToAnchor(
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  at: Date,
): Promise<boolean> {
  if (chain.length === 0 || chain.length > MAX_CHAIN_LENGTH || anchors.length === 0) return false;
  if (!chain.every((cert) => validAt(cert, at))) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i];
    const issuer = chain[i + 1];
    if (cert === undefined || issuer === undefined) return false;
    if (!isCa(issuer) || !(await signedBy(cert, issuer))) return false;
  }
  const last = chain[chain.length - 1];
  if (last === undefined) return false;
  for (const anchor of anchors) {
    if (last.equal(anchor)) return true;
  }
  for (const anchor of anchors) {
    if (validAt(anchor, at) && isCa(anchor) && (await signedBy(last, anchor))) return true;
  }
  return false;
}

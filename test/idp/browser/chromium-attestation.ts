/**
 * A trust anchor for Chromium's virtual authenticator, so its keys can be *attested*.
 *
 * Chromium's virtual authenticator answers `attestation: direct` with `packed` and an x5c
 * of one certificate it makes on the spot (Chromium device/fido/virtual_fido_device.cc,
 * GenerateAttestationCertificate; seen here with Chromium 156): self-signed,
 * "C=US, O=Chromium, OU=Authenticator Attestation, CN=Batch Certificate", serial 1,
 * notBefore 2017-07-14, notAfter 20 years from *now*, CA:false, signed by a P-256
 * attestation key built into Chromium; AAGUID 01020304-0506-0708-0102-030405060708.
 * No published test root exists, and because notAfter moves and ECDSA signatures are
 * randomized, the certificate's bytes differ on every registration: it cannot be pinned.
 *
 * What stays is the name and the key — which is what a trust anchor is (RFC 5280 §6.1.1
 * (d)). `chromiumAttestationRoot` registers once on a probe page, reads that name and key
 * from the x5c, and writes them as a CA certificate (same subject, same public key,
 * CA:true; its own signature, by a throwaway key, is never checked for an anchor). With that
 * PEM in `idp.authenticators.trusted_roots`, Chromium's attestations chain to it
 * (cert-chain.ts: the last certificate is signed by an anchor), the key is attested, and a
 * device-bound one earns `phrh`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeAttestationObject } from '@simplewebauthn/server/helpers';
import type { Page } from 'playwright-core';
import { x509 } from '../../../src/pki/x509.ts';
import { addVirtualAuthenticator } from './chromium-harness.ts';

/** Runs in the page: one registration with direct attestation, returned as base64. */
const PROBE = `(async () => {
  const credential = await navigator.credentials.create({ publicKey: {
    rp: { id: 'localhost', name: 'probe' },
    user: { id: crypto.getRandomValues(new Uint8Array(16)), name: 'probe', displayName: 'probe' },
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    attestation: 'direct',
    authenticatorSelection: { userVerification: 'required' },
  } });
  return btoa(String.fromCharCode(...new Uint8Array(credential.response.attestationObject)));
})()`;

/** The anchor as PEM; `probeOrigin` serves a blank page on localhost (a secure context). */
export async function chromiumAttestationRoot(page: Page, probeOrigin: string): Promise<string> {
  await page.goto(`${probeOrigin}/probe`);
  const cdp = await page.context().newCDPSession(page);
  const probe = await addVirtualAuthenticator(cdp, { backupEligible: false, backupState: false });
  let attestationObject: string;
  try {
    attestationObject = await page.evaluate<string>(PROBE);
  } finally {
    await probe.remove();
    await cdp.detach();
  }
  const decoded = decodeAttestationObject(Buffer.from(attestationObject, 'base64'));
  assert.equal(decoded.get('fmt'), 'packed');
  const [der] = decoded.get('attStmt').get('x5c') ?? [];
  assert.ok(der !== undefined, 'Chromium sent no x5c');
  const leaf = new x509.X509Certificate(Uint8Array.from(der));
  assert.equal(leaf.subject, leaf.issuer, 'Chromium’s attestation certificate is self-signed');

  const wrapper = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ]);
  const anchor = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: leaf.issuer,
    issuer: 'CN=pgkey browser tests (anchor wrapper)',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: leaf.publicKey,
    signingKey: wrapper.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return anchor.toString('pem');
}

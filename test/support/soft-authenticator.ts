/**
 * A software WebAuthn authenticator *and* client, for tests that run without a browser
 * (and later `pgkey demo --selftest`). It does what a browser plus a CTAP2 key would do:
 * builds clientDataJSON (WebAuthn L3 §5.8.1), authenticator data (§6.1) with the UP, UV,
 * BE, BS and AT flags, a signature counter and attested credential data, an attestation
 * object (`none`, `packed` self attestation, or `packed` with an x5c chain, §8.2), and
 * ES256 assertions: an ECDSA P-256 DER signature over authData ‖ SHA-256(clientDataJSON).
 *
 * Unlike a real one it obeys every override, so tests can forge what an attacker or a
 * broken client would send: another origin or RP ID, `crossOrigin`/`topOrigin`, missing
 * UP/UV, a flipped BE, a rewound counter, someone else's user handle, a reused credential
 * id, a bad signature. Replaying a response needs no knob: send the same object twice.
 */
import {
  createHash,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
  type webcrypto,
} from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { x509 } from '../../src/pki/x509.ts';

export type AttestationMode = 'none' | 'packed-self' | 'packed-x5c';

/** Issues the x5c chain (leaf first) for an authenticator's attestation key. */
export interface AttestationIssuer {
  certify(key: AttestationKey, aaguid: string): Promise<Uint8Array[]>;
}

export interface AttestationKey {
  readonly spki: Uint8Array;
  readonly signingKey: webcrypto.CryptoKey;
}

export interface AttestationCa extends AttestationIssuer {
  readonly certPem: string;
  /** Base64 DER, the form MDS statements use for `attestationRootCertificates`. */
  readonly certBase64: string;
}

export interface SoftAuthenticatorOptions {
  /** Default: a fixed test AAGUID. */
  readonly aaguid?: string;
  readonly attestation?: AttestationMode;
  /** Required for `packed-x5c`. */
  readonly attestationIssuer?: AttestationIssuer;
  readonly backupEligible?: boolean;
  readonly backupState?: boolean;
  readonly userVerified?: boolean;
  /** `increment` (default): +1 per assertion; `zero`: always 0, like synced passkeys. */
  readonly signCount?: 'increment' | 'zero';
  /** Counter reported at registration (and the base for increments). */
  readonly initialSignCount?: number;
  readonly transports?: readonly string[];
}

export interface CeremonyOverrides {
  /** The page's origin, as the browser would report it. */
  readonly origin: string;
  /** Hash this RP ID into authData instead of the one in the options. */
  readonly rpId?: string;
  readonly type?: string;
  readonly challenge?: string;
  readonly crossOrigin?: boolean;
  readonly topOrigin?: string;
  readonly userPresent?: boolean;
  readonly userVerified?: boolean;
  readonly backupEligible?: boolean;
  readonly backupState?: boolean;
}

export interface CreateOverrides extends CeremonyOverrides {
  /** Use this credential id (base64url) with a fresh key: a takeover attempt. */
  readonly credentialId?: string;
  readonly aaguid?: string;
  readonly attestation?: AttestationMode;
  readonly ignoreExcludeCredentials?: boolean;
}

export interface GetOverrides extends CeremonyOverrides {
  /** Which credential to use (base64url); default: the first one allowed. */
  readonly credentialId?: string;
  /** Report exactly this counter (a clone, a rewind). */
  readonly signCount?: number;
  /** Send this user handle instead of the credential's; `null` sends none. */
  readonly userHandle?: string | null;
  readonly corruptSignature?: boolean;
}

export interface SoftCredential {
  readonly id: string;
  readonly rpId: string;
  /** base64url, as the RP sent it in `user.id`. */
  readonly userHandle: string;
  readonly privateKey: KeyObject;
  signCount: number;
  readonly backupEligible: boolean;
  backupState: boolean;
}

export const SOFT_AAGUID = '5eaf0fa0-0f75-4a1e-9e3b-7e57ab1ec0de';
const FLAG = { up: 0x01, uv: 0x04, be: 0x08, bs: 0x10, at: 0x40 } as const;
const ES256 = -7;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();
const aaguidBytes = (aaguid: string): Buffer => Buffer.from(aaguid.replaceAll('-', ''), 'hex');

export class SoftAuthenticator {
  readonly #options: SoftAuthenticatorOptions;
  readonly #credentials = new Map<string, SoftCredential>();
  #attestationKey: Promise<{ key: AttestationKey; privateKey: KeyObject }> | undefined;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.#options = options;
  }

  get credentials(): readonly SoftCredential[] {
    return [...this.#credentials.values()];
  }

  credential(id: string): SoftCredential {
    const found = this.#credentials.get(id);
    if (found === undefined) throw new Error(`no soft credential ${id}`);
    return found;
  }

  /** navigator.credentials.create() */
  async create(
    options: PublicKeyCredentialCreationOptionsJSON,
    overrides: CreateOverrides,
  ): Promise<RegistrationResponseJSON> {
    const rpId = options.rp.id ?? new URL(overrides.origin).hostname;
    if (!overrides.ignoreExcludeCredentials) {
      for (const { id } of options.excludeCredentials ?? []) {
        if (this.#credentials.get(id)?.rpId === rpId) throw new Error('InvalidStateError');
      }
    }
    if (!options.pubKeyCredParams.some((p) => p.alg === ES256)) {
      throw new Error('NotSupportedError');
    }

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, ES256], // alg
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x ?? '', 'base64url')],
        [-3, Buffer.from(jwk.y ?? '', 'base64url')],
      ]),
    );
    const credentialId =
      overrides.credentialId === undefined
        ? randomBytes(32)
        : Buffer.from(overrides.credentialId, 'base64url');
    const be = overrides.backupEligible ?? this.#options.backupEligible ?? false;
    const bs = overrides.backupState ?? this.#options.backupState ?? false;
    const signCount =
      this.#options.signCount === 'zero' ? 0 : (this.#options.initialSignCount ?? 0);
    const aaguid = overrides.aaguid ?? this.#options.aaguid ?? SOFT_AAGUID;
    const attestedData = Buffer.concat([
      aaguidBytes(aaguid),
      Buffer.from([credentialId.length >> 8, credentialId.length & 0xff]),
      credentialId,
      coseKey,
    ]);
    const authData = this.#authData(
      overrides.rpId ?? rpId,
      this.#flags(overrides, be, bs) | FLAG.at,
      signCount,
      attestedData,
    );
    const clientDataJSON = this.#clientData('webauthn.create', options.challenge, overrides);
    const attStmt = await this.#attestationStatement(
      overrides.attestation ?? this.#options.attestation ?? 'none',
      Buffer.concat([authData, sha256(clientDataJSON)]),
      privateKey,
      aaguid,
    );
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, number | Uint8Array | Uint8Array[]>>([
        ['fmt', attStmt.size === 0 ? 'none' : 'packed'],
        ['attStmt', attStmt],
        ['authData', authData],
      ]),
    );
    const id = b64url(credentialId);
    this.#credentials.set(id, {
      id,
      rpId,
      userHandle: options.user.id,
      privateKey,
      signCount,
      backupEligible: be,
      backupState: bs,
    });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: [...(this.#options.transports ?? ['usb'])],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
    };
  }

  /** navigator.credentials.get() */
  get(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides: GetOverrides,
  ): Promise<AuthenticationResponseJSON> {
    // Async like navigator.credentials.get(); a throw inside becomes a rejection.
    return new Promise((resolve) => resolve(this.#assert(options, overrides)));
  }

  #assert(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides: GetOverrides,
  ): AuthenticationResponseJSON {
    const rpId = options.rpId ?? new URL(overrides.origin).hostname;
    const allowed = (options.allowCredentials ?? []).map((c) => c.id);
    const credential =
      overrides.credentialId !== undefined
        ? this.credential(overrides.credentialId)
        : this.credentials.find(
            (c) => c.rpId === rpId && (allowed.length === 0 || allowed.includes(c.id)),
          );
    if (credential === undefined) throw new Error('NotAllowedError');

    if (overrides.signCount !== undefined) credential.signCount = overrides.signCount;
    else if (this.#options.signCount !== 'zero') credential.signCount += 1;
    const be = overrides.backupEligible ?? credential.backupEligible;
    const bs = overrides.backupState ?? credential.backupState;
    const authData = this.#authData(
      overrides.rpId ?? rpId,
      this.#flags(overrides, be, bs),
      credential.signCount,
    );
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, overrides);
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientDataJSON)]),
      credential.privateKey,
    );
    if (overrides.corruptSignature) signature.writeUInt8(signature.readUInt8(10) ^ 0x01, 10);
    const userHandle =
      overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
    };
  }

  #flags(overrides: CeremonyOverrides, be: boolean, bs: boolean): number {
    const up = overrides.userPresent ?? true;
    const uv = overrides.userVerified ?? this.#options.userVerified ?? true;
    return (up ? FLAG.up : 0) | (uv ? FLAG.uv : 0) | (be ? FLAG.be : 0) | (bs ? FLAG.bs : 0);
  }

  /** rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ attested credential data */
  #authData(rpId: string, flags: number, signCount: number, attested?: Buffer): Buffer {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(signCount >>> 0);
    return Buffer.concat([
      sha256(rpId),
      Buffer.from([flags]),
      counter,
      attested ?? Buffer.alloc(0),
    ]);
  }

  #clientData(type: string, challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin,
        crossOrigin: overrides.crossOrigin ?? false,
        ...(overrides.topOrigin === undefined ? {} : { topOrigin: overrides.topOrigin }),
      }),
    );
  }

  async #attestationStatement(
    mode: AttestationMode,
    signed: Buffer,
    credentialKey: KeyObject,
    aaguid: string,
  ): Promise<Map<string, number | Uint8Array | Uint8Array[]>> {
    switch (mode) {
      case 'none':
        return new Map();
      case 'packed-self': // §8.2: signed by the credential key itself, no x5c
        return new Map<string, number | Uint8Array>([
          ['alg', ES256],
          ['sig', sign('sha256', signed, credentialKey)],
        ]);
      case 'packed-x5c': {
        const issuer = this.#options.attestationIssuer;
        if (issuer === undefined) throw new Error('packed-x5c needs an attestationIssuer');
        this.#attestationKey ??= newAttestationKey();
        const { key, privateKey } = await this.#attestationKey;
        return new Map<string, number | Uint8Array | Uint8Array[]>([
          ['alg', ES256],
          ['sig', sign('sha256', signed, privateKey)],
          ['x5c', await issuer.certify(key, aaguid)],
        ]);
      }
      default:
        throw new Error(`unknown attestation mode ${String(mode)}`);
    }
  }
}

function newAttestationKey(): Promise<{ key: AttestationKey; privateKey: KeyObject }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = privateKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
  ]);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return Promise.resolve({ key: { spki, signingKey }, privateKey });
}

// ---- Test attestation certificates (WebAuthn L3 §8.2.1.1 packed certificate requirements)

const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const VALIDITY = {
  notBefore: new Date(Date.UTC(2020, 0, 1)),
  notAfter: new Date(Date.UTC(2045, 0, 1)),
};
const ATTESTATION_SUBJECT =
  'C=XX, O=pgkey tests, OU=Authenticator Attestation, CN=Soft Authenticator';
/** id-fido-gen-ce-aaguid: the AAGUID, as a DER OCTET STRING. */
const aaguidExtension = (aaguid: string): x509.Extension =>
  new x509.Extension(
    '1.3.6.1.4.1.45724.1.1.4',
    false,
    Buffer.concat([Buffer.from([0x04, 0x10]), aaguidBytes(aaguid)]),
  );
const serial = (): string => `01${randomBytes(15).toString('hex')}`;

async function leafCertificate(
  key: AttestationKey,
  aaguid: string,
  issuer: string,
  signingKey: webcrypto.CryptoKey,
): Promise<Uint8Array> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: ATTESTATION_SUBJECT,
    issuer,
    ...VALIDITY,
    publicKey: new x509.PublicKey(key.spki),
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      aaguidExtension(aaguid),
    ],
  });
  return new Uint8Array(cert.rawData);
}

/** A root CA that certifies batch attestation keys, like a vendor's attestation root. */
export async function createAttestationCa(
  commonName = 'pgkey test attestation root',
): Promise<AttestationCa> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = privateKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
  ]);
  const name = `CN=${commonName}, O=pgkey tests, C=XX`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    ...VALIDITY,
    keys: {
      publicKey: publicKey.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
      privateKey: signingKey,
    },
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return {
    certPem: cert.toString('pem'),
    certBase64: Buffer.from(cert.rawData).toString('base64'),
    certify: async (key, aaguid) => [await leafCertificate(key, aaguid, cert.subject, signingKey)],
  };
}

/** An attestation certificate signed by its own key: verifies, chains to nothing (D26). */
export const selfSignedAttestation: AttestationIssuer = {
  certify: async (key, aaguid) => [
    await leafCertificate(key, aaguid, ATTESTATION_SUBJECT, key.signingKey),
  ],
};

/**
 * A software WebAuthn authenticator *and* client, for `pgkey demo --selftest` and for tests
 * that run without a browser. It does what a browser plus a CTAP2 key would do: builds
 * clientDataJSON (WebAuthn L3 §5.8.1), authenticator data (§6.1) with the UP, UV, BE, BS and
 * AT flags, a signature counter and attested credential data, an attestation object (`none`,
 * `packed` self attestation, or `packed` with an x5c chain, §8.2), and ES256 assertions: an
 * ECDSA P-256 DER signature over authData ‖ SHA-256(clientDataJSON).
 *
 * Unlike a real one it obeys every override, so tests can forge what an attacker or a
 * broken client would send: another origin or RP ID, `crossOrigin`/`topOrigin`, missing
 * UP/UV, a flipped BE, a rewound counter, someone else's user handle, a reused credential
 * id, a bad signature. Replaying a response needs no knob: send the same object twice.
 *
 * Failures are thrown as errors named like the DOMExceptions a browser raises
 * (`InvalidStateError`, `NotAllowedError`, `NotSupportedError`).
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import {
  attestationStatement,
  newAttestationKey,
  type AttestationIssuer,
  type AttestationKey,
  type AttestationMode,
} from './attestation.ts';
import {
  attestedCredentialData,
  authenticatorData,
  b64url,
  clientDataJSON,
  ES256,
  FLAG,
  sha256,
} from './authenticator-data.ts';
import type { CeremonyOverrides, CreateOverrides, GetOverrides } from './ceremony-overrides.ts';

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

export class SoftAuthenticator {
  readonly #options: SoftAuthenticatorOptions;
  readonly #credentials = new Map<string, SoftCredential>();
  #attestationKey: { key: AttestationKey; privateKey: KeyObject } | undefined;

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
    const credentialId =
      overrides.credentialId === undefined
        ? randomBytes(32)
        : Buffer.from(overrides.credentialId, 'base64url');
    const be = overrides.backupEligible ?? this.#options.backupEligible ?? false;
    const bs = overrides.backupState ?? this.#options.backupState ?? false;
    const signCount =
      this.#options.signCount === 'zero' ? 0 : (this.#options.initialSignCount ?? 0);
    const aaguid = overrides.aaguid ?? this.#options.aaguid ?? SOFT_AAGUID;
    const authData = authenticatorData(
      overrides.rpId ?? rpId,
      this.#flags(overrides, be, bs) | FLAG.at,
      signCount,
      attestedCredentialData(aaguid, credentialId, publicKey),
    );
    const clientData = clientDataJSON('webauthn.create', options.challenge, overrides);
    const attStmt = await attestationStatement(
      overrides.attestation ?? this.#options.attestation ?? 'none',
      Buffer.concat([authData, sha256(clientData)]),
      privateKey,
      () => this.#attestation(aaguid),
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
        clientDataJSON: b64url(clientData),
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
    const authData = authenticatorData(
      overrides.rpId ?? rpId,
      this.#flags(overrides, be, bs),
      credential.signCount,
    );
    const clientData = clientDataJSON('webauthn.get', options.challenge, overrides);
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientData)]),
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
        clientDataJSON: b64url(clientData),
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

  async #attestation(aaguid: string): Promise<{ privateKey: KeyObject; x5c: Uint8Array[] }> {
    const issuer = this.#options.attestationIssuer;
    if (issuer === undefined) throw new Error('packed-x5c needs an attestationIssuer');
    this.#attestationKey ??= newAttestationKey();
    const { key, privateKey } = this.#attestationKey;
    return { privateKey, x5c: await issuer.certify(key, aaguid) };
  }
}

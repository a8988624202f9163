/**
 * The one normalized identity every token source becomes (DESIGN.md "Identity"). Policy,
 * audit and the session registry see only this, never raw claims formats.
 */
export const IDENTITY_KINDS = ['human', 'workload', 'delegated'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface Identity {
  /** The configured issuer name (`issuers[].name`). */
  readonly issuerName: string;
  /** The `iss` claim, byte for byte. */
  readonly issuer: string;
  readonly subject: string;
  readonly kind: IdentityKind;
  readonly email: string | undefined;
  readonly groups: readonly string[];
  /** `auth_time` in ms since the epoch: when the person last proved presence with a key. */
  readonly authTime: number | undefined;
  readonly acr: string | undefined;
  readonly amr: readonly string[];
  /** The token satisfied the issuer's FIDO2 evidence rule (always false for workloads). */
  readonly fido2: boolean;
  /** WebAuthn credential id (base64url) when the issuer says which key signed in. */
  readonly credentialId: string | undefined;
  readonly aaguid: string | undefined;
  /** true: single-device key (BE=0); false: syncable passkey; undefined: issuer does not say. */
  readonly deviceBound: boolean | undefined;
  /**
   * true: the key's attestation chained to a trusted root when it was enrolled, so its model
   * (AAGUID) is proven, not self-asserted; false: it did not; undefined: issuer does not say.
   */
  readonly attested: boolean | undefined;
  /**
   * true: the login's assertion carried the UV flag (PIN or biometric: a multi-factor
   * authenticator, NIST SP 800-63B-4); false: presence only; undefined: issuer does not say.
   */
  readonly userVerified: boolean | undefined;
  /** The actor of a delegated token (RFC 8693 `act.sub`). */
  readonly actor: string | undefined;
  /** `jti`, when present. */
  readonly tokenId: string | undefined;
  /** `iat` in ms since the epoch, when present: revocation compares it with the directory. */
  readonly issuedAt: number | undefined;
  /** `exp` in ms since the epoch. */
  readonly expiresAt: number;
  /** The verified claims set, for policy `match.claims`. Never logged whole. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * A service token minted at pgkey's token service (src/sts) opens exactly this database
   * and role, whatever the policy says (gateway/token-grant.ts). `rule` granted the mint.
   */
  readonly restrictedTo?:
    { readonly database: string; readonly role: string; readonly rule: string } | undefined;
  /** The person who minted this service token, and the key of the login they minted it with. */
  readonly mintedBy?: MintedBy | undefined;
}

export interface MintedBy {
  /** Issuer URL (`iss`) of the person's token. */
  readonly issuer: string;
  readonly subject: string;
  readonly email: string | undefined;
  readonly credentialId: string | undefined;
}

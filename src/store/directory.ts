/**
 * The directory: everything the built-in identity provider knows — people, their groups and
 * keys, invites, WebAuthn challenges, the OpenID provider's own state and its signing keys,
 * the token service's keys and minted service tokens — behind one interface with two
 * implementations: node:sqlite (embedded default, one file)
 * and PostgreSQL (several pgkey nodes share it). One contract suite runs against both
 * (test/store/directory.contract.ts).
 *
 * Every method that must be atomic says so; implementations enforce it with the database
 * (unique constraints, DELETE … RETURNING), never with read-then-write in application code
 * (reliability.md D25: credential-id takeover races).
 *
 * Times are milliseconds since the epoch. Ids are strings chosen by the caller unless noted.
 */

export interface User {
  readonly id: string;
  /** Lower-cased; unique. */
  readonly email: string;
  readonly displayName: string;
  readonly disabled: boolean;
  readonly disabledReason: string | undefined;
  /** Sorted, unique. */
  readonly groups: readonly string[];
  /**
   * Tokens issued before this instant are no longer accepted for this user (bumped when the
   * user is disabled or loses a group, so old tokens with stale groups stop working).
   */
  readonly tokensValidAfter: number;
  readonly createdAt: number;
}

export interface Credential {
  /** WebAuthn credential id, base64url. Unique across all users. */
  readonly id: string;
  readonly userId: string;
  /** COSE public key bytes. */
  readonly publicKey: Uint8Array;
  readonly signCount: number;
  readonly transports: readonly string[];
  /** Lower-case hyphenated UUID; all zeros when the authenticator reports none. */
  readonly aaguid: string;
  readonly backupEligible: boolean;
  readonly backupState: boolean;
  readonly attestationFormat: string;
  /** The attestation chained to a trusted root (MDS3 or configured roots). */
  readonly attested: boolean;
  /** Set by the user; defaults to a model name from the AAGUID. */
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | undefined;
  readonly revokedAt: number | undefined;
  readonly revokedReason: string | undefined;
  /** Why the credential is suspect (e.g. `sign_count_regression`); a flagged key is refused. */
  readonly flaggedReason: string | undefined;
}

export type NewCredential = Omit<
  Credential,
  'lastUsedAt' | 'revokedAt' | 'revokedReason' | 'flaggedReason'
>;

export interface Invite {
  readonly id: string;
  /** SHA-256 of the secret in the link, base64url; the secret itself is never stored. */
  readonly tokenHash: string;
  readonly email: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | undefined;
}

export interface Challenge {
  readonly id: string;
  /** What the challenge is for: `registration`, `authentication`, … */
  readonly purpose: string;
  /** base64url of the challenge bytes. */
  readonly challenge: string;
  readonly userId: string | undefined;
  /** Ceremony context the caller needs back (interaction uid, invite id, …). */
  readonly data: Readonly<Record<string, string>>;
  readonly expiresAt: number;
}

/** A row of the OpenID provider's own state (oidc-provider adapter models). */
export interface OidcRecord {
  readonly payload: Readonly<Record<string, unknown>>;
  readonly expiresAt: number | undefined;
  readonly consumedAt: number | undefined;
}

export interface SigningKey {
  readonly kid: string;
  /** Private JWK (with `alg`); never leaves the directory except to the provider. */
  readonly privateJwk: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  /** The key is published in JWKS from creation; it signs from this instant on. */
  readonly activatesAt: number;
  /** Stops signing from here; stays published until `expiresAt`. */
  readonly retiredAt: number | undefined;
  /** Removed from JWKS after this instant (retiredAt + longest token lifetime). */
  readonly expiresAt: number | undefined;
}

/**
 * A service token a person minted at the token service (src/sts): its grant, who minted it
 * and with which key. The token itself is never stored; its `jti` is the id.
 */
export interface MintedToken {
  /** The token's `jti`. */
  readonly id: string;
  /** The service name; the token's subject is `svc:<name>`. */
  readonly name: string;
  readonly database: string;
  readonly role: string;
  /** The person who minted it, as their token said at the time. */
  readonly mintedBy: {
    /** Issuer URL (`iss`) of the person's token. */
    readonly issuer: string;
    readonly subject: string;
    readonly email: string | undefined;
    /** The FIDO2 credential of the login that minted it, when the issuer names it. */
    readonly credentialId: string | undefined;
  };
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | undefined;
  /** Who revoked it (an e-mail or subject). */
  readonly revokedBy: string | undefined;
  readonly revokedReason: string | undefined;
}

export type NewMintedToken = Omit<MintedToken, 'revokedAt' | 'revokedBy' | 'revokedReason'>;

/** What changed, for live enforcement (the gateway ends sessions) in every process and node. */
export type DirectoryChange =
  | { readonly kind: 'user.disabled'; readonly userId: string; readonly reason: string }
  | { readonly kind: 'user.groups_changed'; readonly userId: string }
  | {
      readonly kind: 'credential.revoked';
      readonly userId: string;
      readonly credentialId: string;
      readonly reason: string;
    }
  | {
      readonly kind: 'token.revoked';
      /** The minted token's `jti`. */
      readonly tokenId: string;
      /** Its subject (`svc:<name>`). */
      readonly subject: string;
      readonly reason: string;
    };

export interface UserStore {
  /**
   * Fails with ERR_CONFLICT reason `email_taken` when the e-mail exists (compared
   * lower-cased), reason `user_exists` when the id does. tokensValidAfter starts at 0.
   */
  create(input: { id: string; email: string; displayName: string; now: number }): Promise<User>;
  get(id: string): Promise<User | undefined>;
  findByEmail(email: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  /**
   * Disabling bumps tokensValidAfter to `now` (never backwards) and emits exactly one
   * `user.disabled` per call, also when already disabled (re-announcing ends stray
   * sessions). Re-enabling clears the reason, keeps tokensValidAfter and emits nothing.
   * ERR_NOT_FOUND for an unknown user (as for every update below).
   */
  setDisabled(
    id: string,
    disabled: boolean,
    reason: string | undefined,
    now: number,
  ): Promise<User>;
  /** Idempotent; safe against concurrent adds from several nodes. */
  addGroup(id: string, group: string): Promise<User>;
  /** Idempotent; when the user had the group, bumps tokensValidAfter and emits `user.groups_changed`. */
  removeGroup(id: string, group: string, now: number): Promise<User>;
}

export interface CredentialStore {
  /**
   * Atomic: a duplicate id (any user) fails with ERR_CONFLICT reason `credential_exists`;
   * of any number of concurrent adds of one id exactly one succeeds. ERR_NOT_FOUND for an
   * unknown user.
   */
  add(credential: NewCredential): Promise<Credential>;
  get(id: string): Promise<Credential | undefined>;
  listByUser(userId: string): Promise<Credential[]>;
  list(): Promise<Credential[]>;
  /**
   * Records a successful assertion. Compare-and-set on the previous sign count, so two
   * concurrent assertions cannot both move the counter from the same value; returns false
   * when the stored count was no longer `previousSignCount` — and also when the credential
   * is unknown, revoked or flagged, so a revoke racing a login wins.
   */
  recordUse(
    id: string,
    update: { previousSignCount: number; signCount: number; backupState: boolean; now: number },
  ): Promise<boolean>;
  /** Keeps the first reason. */
  flag(id: string, reason: string): Promise<void>;
  /**
   * Idempotent (keeps the first reason and time). Every call emits `credential.revoked`
   * with the stored reason, so repeating a revoke re-announces it.
   */
  revoke(id: string, reason: string, now: number): Promise<Credential>;
  rename(id: string, name: string): Promise<Credential>;
}

export interface InviteStore {
  /** ERR_CONFLICT reason `invite_exists` when the id or token hash exists. */
  create(invite: Omit<Invite, 'usedAt'>): Promise<Invite>;
  /**
   * Atomic single use: marks the invite used and returns it, or undefined if unknown, used
   * or expired (from `expiresAt` on).
   */
  consume(tokenHash: string, now: number): Promise<Invite | undefined>;
  /** Looks without consuming (to render the enrollment page); undefined if unusable. */
  peek(tokenHash: string, now: number): Promise<Invite | undefined>;
  list(): Promise<Invite[]>;
}

export interface ChallengeStore {
  /** Never overwrites: ERR_CONFLICT reason `challenge_exists` for a known id. */
  put(challenge: Challenge): Promise<void>;
  /** Atomic: deletes and returns the challenge; undefined if unknown or expired (deleted either way). */
  take(id: string, now: number): Promise<Challenge | undefined>;
  /** Deletes expired challenges; returns how many. */
  sweep(now: number): Promise<number>;
}

/**
 * Storage for oidc-provider's adapter (its models: Session, AccessToken, Grant, …). Every
 * lookup hides records from `expiresAt` on. `consume` keeps the first time, and an `upsert`
 * of a consumed record leaves it consumed.
 */
export interface OidcStore {
  upsert(
    model: string,
    id: string,
    payload: Readonly<Record<string, unknown>>,
    expiresAt: number | undefined,
    index: {
      grantId?: string | undefined;
      userCode?: string | undefined;
      uid?: string | undefined;
    },
  ): Promise<void>;
  find(model: string, id: string, now: number): Promise<OidcRecord | undefined>;
  findByUserCode(model: string, userCode: string, now: number): Promise<OidcRecord | undefined>;
  findByUid(model: string, uid: string, now: number): Promise<OidcRecord | undefined>;
  consume(model: string, id: string, now: number): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
  sweep(now: number): Promise<number>;
}

export interface SigningKeyStore {
  /** Oldest first. */
  list(): Promise<SigningKey[]>;
  /** ERR_CONFLICT reason `key_exists` for a known kid. */
  add(key: SigningKey): Promise<void>;
  /** ERR_NOT_FOUND for an unknown kid. */
  retire(kid: string, retiredAt: number, expiresAt: number): Promise<void>;
  /** Deletes keys whose expiresAt has passed; returns their kids. */
  prune(now: number): Promise<string[]>;
}

/** Service tokens minted at the token service, for listing, revocation and the gateway's check. */
export interface MintedTokenStore {
  /** ERR_CONFLICT reason `token_exists` for a known id. */
  add(token: NewMintedToken): Promise<MintedToken>;
  get(id: string): Promise<MintedToken | undefined>;
  /** Newest first; `mintedBy` narrows to one person's tokens (issuer URL and subject). */
  list(mintedBy?: { readonly issuer: string; readonly subject: string }): Promise<MintedToken[]>;
  /**
   * Idempotent (keeps the first time, revoker and reason). Every call emits `token.revoked`,
   * so repeating a revoke re-announces it. ERR_NOT_FOUND for an unknown id.
   */
  revoke(id: string, by: string, reason: string, now: number): Promise<MintedToken>;
  /** Deletes records that expired before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export interface Directory {
  readonly kind: 'sqlite' | 'postgres';
  readonly users: UserStore;
  readonly credentials: CredentialStore;
  readonly invites: InviteStore;
  readonly challenges: ChallengeStore;
  readonly oidc: OidcStore;
  readonly signingKeys: SigningKeyStore;
  /**
   * The token service's own signing keys: a separate set, so the provider never publishes or
   * signs with them and the service never with the provider's.
   */
  readonly tokenServiceKeys: SigningKeyStore;
  readonly mintedTokens: MintedTokenStore;
  /**
   * Calls `listener` once per change: made here, right after COMMIT; made through another
   * directory on the same store (another process on the sqlite file, e.g. the admin CLI;
   * another node on PostgreSQL), within a second, through the `changes` feed (sqlite polls it
   * while anyone is subscribed, PostgreSQL LISTENs). A listener that throws does not stop the
   * others; its error resurfaces as an uncaught exception. Returns an unsubscribe function.
   */
  subscribe(listener: (change: DirectoryChange) => void): () => void;
  /** Lets started operations finish; later calls fail with ERR_STORE_UNAVAILABLE. Idempotent. */
  close(): Promise<void>;
}

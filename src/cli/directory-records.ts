/**
 * Directory records as the directory commands show them: `--json` documents (full ids, times
 * in ISO 8601 with milliseconds, null for none, no key material) and the words of the human
 * tables.
 */
import type { Credential, User } from '../store/directory.ts';
import { jsonTime } from './table.ts';

export type KeyState = 'active' | 'revoked' | 'flagged';

/** A revoked key stays revoked; a flagged one is refused until revoked or cleared. */
export function keyState(credential: Credential): KeyState {
  if (credential.revokedAt !== undefined) return 'revoked';
  return credential.flaggedReason === undefined ? 'active' : 'flagged';
}

/** `active`, `revoked: lost on a train`, `flagged: sign_count_regression`. */
export function describeKeyState(credential: Credential): string {
  const state = keyState(credential);
  const reason = state === 'revoked' ? credential.revokedReason : credential.flaggedReason;
  return reason === undefined || reason === '' ? state : `${state}: ${reason}`;
}

export function activeKeys(credentials: readonly Credential[]): number {
  return credentials.filter((c) => keyState(c) === 'active').length;
}

export function userJson(user: User, credentials?: readonly Credential[]) {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    groups: user.groups,
    disabled: user.disabled,
    disabledReason: user.disabledReason ?? null,
    // 0: no cut-off yet.
    tokensValidAfter: user.tokensValidAfter === 0 ? null : jsonTime(user.tokensValidAfter),
    createdAt: jsonTime(user.createdAt),
    ...(credentials === undefined
      ? {}
      : { keys: { active: activeKeys(credentials), total: credentials.length } }),
  };
}

export function credentialJson(credential: Credential, owner: User | undefined, model: string) {
  return {
    id: credential.id,
    userId: credential.userId,
    owner: owner?.email ?? null,
    name: credential.name,
    model,
    aaguid: credential.aaguid,
    createdAt: jsonTime(credential.createdAt),
    lastUsedAt: jsonTime(credential.lastUsedAt),
    // WebAuthn L3 §6.1 flag BE=0: the key cannot be synced off the device that made it.
    deviceBound: !credential.backupEligible,
    backupEligible: credential.backupEligible,
    backedUp: credential.backupState,
    attested: credential.attested,
    attestationFormat: credential.attestationFormat,
    transports: credential.transports,
    signCount: credential.signCount,
    state: keyState(credential),
    revokedAt: jsonTime(credential.revokedAt),
    revokedReason: credential.revokedReason ?? null,
    flaggedReason: credential.flaggedReason ?? null,
  };
}

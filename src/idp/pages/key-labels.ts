/**
 * How a key is described to people, on "My keys" and on the admin page: its kind (from the
 * backup flags, WebAuthn L3 §6.1.3), whether its model is proven, its state; and the rules
 * for a line someone types (a key name, a reason).
 */
import type { Credential } from '../../store/directory.ts';
import { html } from '../provider/pages.ts';

const MAX_NAME_LENGTH = 64;

/** Printable, one line, at most `max` characters; undefined when nothing is left. */
export function cleanLine(value: string | null | undefined, max: number): string | undefined {
  const cleaned = value
    ?.slice(0, max * 4)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max)
    .trim();
  return cleaned === undefined || cleaned === '' ? undefined : cleaned;
}

/** A key name someone typed (the same rules as at registration). */
export const cleanKeyName = (value: string | null | undefined): string | undefined =>
  cleanLine(value, MAX_NAME_LENGTH);

export const isActiveKey = (c: Credential): boolean =>
  c.revokedAt === undefined && c.flaggedReason === undefined;

/** BE=0: bound to one authenticator. BE=1: a passkey a provider may copy to other devices. */
export function keyKind(c: Credential): string {
  if (!c.backupEligible) return 'Device-bound';
  return c.backupState ? 'Synced passkey' : 'Passkey (not backed up yet)';
}

/** Model name, plus whether the attestation proved it (else the AAGUID is only a claim). */
export function keyModelHtml(c: Credential, describe: (aaguid: string) => string): string {
  const proof = c.attested
    ? ' <span class="tag ok" title="The attestation chained to a trusted root">verified</span>'
    : '';
  return `${html(describe(c.aaguid))}${proof}`;
}

export function keyStateHtml(c: Credential): string {
  if (c.revokedAt !== undefined) {
    return `<span class="tag off">Removed</span>${
      c.revokedReason === undefined ? '' : ` <span class="muted">${html(c.revokedReason)}</span>`
    }`;
  }
  if (c.flaggedReason !== undefined) {
    return `<span class="tag bad">Blocked</span> <span class="muted">${html(c.flaggedReason)}</span>`;
  }
  return '<span class="tag ok">Active</span>';
}

/** Active keys first, then newest first. */
export function sortKeys(keys: readonly Credential[]): Credential[] {
  return [...keys].sort(
    (a, b) => Number(isActiveKey(b)) - Number(isActiveKey(a)) || b.createdAt - a.createdAt,
  );
}

/** Fixtures and assertions shared by the directory contract's parts. */
import assert from 'node:assert/strict';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import type { Directory, DirectoryChange, NewCredential } from '../../src/store/directory.ts';

/** Gives each test its directory; call it inside a test, not at registration. */
export type CurrentDirectory = () => Directory;
/** Opens another directory on the current one's storage; the contract closes it. */
export type AnotherDirectory = () => Promise<Directory>;

export const T0 = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;

export async function rejectsWith(
  promise: Promise<unknown>,
  code: 'ERR_CONFLICT' | 'ERR_NOT_FOUND' | 'ERR_STORE_UNAVAILABLE',
  reason?: string,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(isPgkeyError(error, code), `expected ${code}, got ${String(error)}`);
    if (reason !== undefined) assert.equal(error.reason, reason);
    return true;
  });
}

/** Records every change the directory delivers to this process, until it closes. */
export function record(directory: Directory): DirectoryChange[] {
  const changes: DirectoryChange[] = [];
  directory.subscribe((change) => changes.push(change));
  return changes;
}

/**
 * Long enough for a change to come back a second time (PostgreSQL: our own NOTIFY, read back
 * from the change feed), so "exactly once" is asserted after any duplicate would have come.
 */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** Resolves once `condition` holds, checking every 10 ms; rejects after `ms`. */
export async function within(ms: number, condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !condition();) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let serial = 0;
export async function newUser(directory: Directory, email?: string) {
  const n = ++serial;
  return directory.users.create({
    id: `user-${n}`,
    email: email ?? `user${n}@example.com`,
    displayName: `User ${n}`,
    now: T0,
  });
}

export function credential(userId: string, id: string, overrides: Partial<NewCredential> = {}) {
  return {
    id,
    userId,
    publicKey: new Uint8Array([0xa5, 1, 2, 3, 0, 255]),
    signCount: 0,
    transports: ['usb', 'nfc'],
    aaguid: '00000000-0000-0000-0000-000000000000',
    backupEligible: false,
    backupState: false,
    attestationFormat: 'packed',
    attested: true,
    name: 'YubiKey 5',
    createdAt: T0,
    ...overrides,
  } satisfies NewCredential;
}

/** Runs `count` copies of `attempt` at once; returns how many fulfilled and the rejections. */
export async function race<T>(count: number, attempt: (i: number) => Promise<T>) {
  const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => attempt(i)));
  const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return { won, lost };
}

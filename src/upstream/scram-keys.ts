import { createHash, createHmac, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * SCRAM-SHA-256 key derivation (RFC 5802 §3, RFC 7677 §3) with a small LRU cache. The salt
 * and iteration count are fixed per role, so without the cache every reconnect would repeat
 * the same PBKDF2 on the libuv pool (reference/protocol.md §2.4 "Performance"); with it a
 * reconnect costs three HMACs.
 */
export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const pbkdf2Async = promisify(pbkdf2);
const KEY_CACHE_SIZE = 64;
/**
 * Cached as promises, so concurrent logins as one role share one PBKDF2 run. Keyed by a
 * hash of (password, salt, iterations), so the map's keys do not hold passwords.
 */
const keyCache = new Map<string, Promise<ScramKeys>>();

/** SaltedPassword = Hi(password, salt, i); ClientKey, StoredKey = H(ClientKey), ServerKey. */
export function deriveScramKeys(
  password: Buffer,
  salt: Buffer,
  iterations: number,
): Promise<ScramKeys> {
  const id = createHash('sha256')
    .update(`${password.length}:${salt.length}:${iterations}:`)
    .update(password)
    .update(salt)
    .digest('base64');
  const cached = keyCache.get(id);
  if (cached !== undefined) {
    keyCache.delete(id); // re-insert: a Map's insertion order is the LRU order
    keyCache.set(id, cached);
    return cached;
  }
  const pending = pbkdf2Async(password, salt, iterations, 32, 'sha256').then((salted) => {
    const clientKey = hmac(salted, 'Client Key');
    const keys = {
      clientKey,
      storedKey: createHash('sha256').update(clientKey).digest(),
      serverKey: hmac(salted, 'Server Key'),
    };
    salted.fill(0);
    return keys;
  });
  keyCache.set(id, pending);
  // A failed derivation is not cached; the caller sees the rejection through `pending`.
  pending.catch(() => keyCache.delete(id));
  for (const oldest of keyCache.keys()) {
    if (keyCache.size <= KEY_CACHE_SIZE) break;
    keyCache.delete(oldest);
  }
  return pending;
}

/**
 * ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage) and
 * ServerSignature = HMAC(ServerKey, AuthMessage) (RFC 5802 §3).
 */
export function scramProofs(
  keys: ScramKeys,
  authMessage: string,
): { readonly proof: Buffer; readonly serverSignature: Buffer } {
  const clientSignature = hmac(keys.storedKey, authMessage);
  const proof = Buffer.alloc(clientSignature.length);
  for (let i = 0; i < proof.length; i++) {
    proof[i] = (keys.clientKey[i] ?? 0) ^ (clientSignature[i] ?? 0);
  }
  return { proof, serverSignature: hmac(keys.serverKey, authMessage) };
}

/** Drops every derived key, e.g. after the secrets file is reloaded. */
export function clearScramKeyCache(): void {
  keyCache.clear();
}

export function scramKeyCacheSize(): number {
  return keyCache.size;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

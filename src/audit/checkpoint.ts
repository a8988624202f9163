import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { AuditChain } from './chain.ts';
import type { AuditOpenSession, CheckpointEvent } from './events.ts';
import { CHECKPOINT_TYP, type AuditSigner } from './signing-key.ts';

/**
 * What a checkpoint signs: "chain `chain` has `seq` records and the last one hashes to
 * `head`, at `time`". The record carrying the JWS is itself the chain's next record, so its
 * `prev` must equal `head` and its `seq` be `seq + 1`: a verifier checks both.
 */
export interface CheckpointPayload {
  readonly chain: string;
  readonly seq: number;
  readonly head: string;
  readonly time: string;
}

export interface CheckpointOptions {
  readonly time: string;
  readonly id: string;
  /** Gateway chains carry their open sessions; other writers leave this out. */
  readonly openSessions?: readonly AuditOpenSession[];
  readonly final?: boolean;
}

/** The checkpoint for the chain's current head; append it to the same chain next. */
export function checkpointEvent(
  chain: AuditChain,
  signer: AuditSigner,
  options: CheckpointOptions,
): CheckpointEvent {
  const payload: CheckpointPayload = {
    chain: chain.id,
    seq: chain.seq,
    head: chain.head,
    time: options.time,
  };
  return {
    type: 'audit.checkpoint',
    time: options.time,
    id: options.id,
    head_seq: chain.seq,
    head: chain.head,
    jws: signer.sign(payload),
    ...(options.openSessions === undefined ? {} : { open_sessions: options.openSessions }),
    ...(options.final === true ? { final: true as const } : {}),
  };
}

/** A public key a verifier trusts, by thumbprint. */
export interface VerifyKey {
  readonly kid: string;
  readonly key: Awaited<ReturnType<typeof importJWK>>;
}

/**
 * Reads pinned public keys: each file a JWK or a JWK Set. Only Ed25519 keys count; a `kid`
 * in the file is ignored in favour of the RFC 7638 thumbprint, which the JWS header names.
 */
export async function loadVerifyKeys(files: readonly string[]): Promise<VerifyKey[]> {
  const keys: VerifyKey[] = [];
  for (const file of files) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `audit key ${file}: not a readable JSON Web Key`,
        reason: 'audit_verify_key',
        cause,
      });
    }
    const set = (parsed as { keys?: unknown }).keys;
    const jwks = (Array.isArray(set) ? set : [parsed]) as JWK[];
    for (const jwk of jwks) {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
      const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
      keys.push({
        kid: await calculateJwkThumbprint(publicJwk),
        key: await importJWK(publicJwk, 'EdDSA'),
      });
    }
  }
  if (files.length > 0 && keys.length === 0) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `no Ed25519 public key in ${files.join(', ')}`,
      reason: 'audit_verify_key',
    });
  }
  return keys;
}

export type CheckpointCheck =
  | { readonly ok: true; readonly payload: CheckpointPayload }
  | { readonly ok: false; readonly why: string };

/** Verifies the JWS against the pinned keys: `alg` EdDSA only, our `typ`, a known `kid`. */
export async function verifyCheckpointJws(
  jws: string,
  keys: readonly VerifyKey[],
): Promise<CheckpointCheck> {
  if (keys.length === 0) {
    return { ok: false, why: 'no public key to check it with (give --key FILE)' };
  }
  let kid: unknown;
  try {
    const result = await compactVerify(
      jws,
      (header) => {
        kid = header.kid;
        const found = keys.find((k) => k.kid === header.kid);
        if (found === undefined) throw new Error('unknown kid');
        return found.key;
      },
      { algorithms: ['EdDSA'] },
    );
    if (result.protectedHeader.typ !== CHECKPOINT_TYP) {
      return { ok: false, why: `the JWS typ is not ${CHECKPOINT_TYP}` };
    }
    const payload = JSON.parse(new TextDecoder().decode(result.payload)) as CheckpointPayload;
    return { ok: true, payload };
  } catch {
    if (typeof kid === 'string' && !keys.some((k) => k.kid === kid)) {
      return { ok: false, why: `signed by key ${kid}, which is not among the trusted keys` };
    }
    return { ok: false, why: 'the signature does not verify' };
  }
}

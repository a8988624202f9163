import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { PgkeyError } from '../errors/pgkey-error.ts';

/** `typ` of a checkpoint JWS, so no other pgkey token can pass for one (RFC 8725 §3.11). */
export const CHECKPOINT_TYP = 'pgkey-audit-checkpoint';

/**
 * Signs checkpoints. `sign` is synchronous on purpose: a checkpoint names the chain head at
 * the moment it is appended, and an await there would let other records slip in between.
 */
export interface AuditSigner {
  /** RFC 7638 thumbprint of the public key; the JWS `kid`. */
  readonly kid: string;
  readonly publicJwk: JsonWebKey;
  /** A compact JWS (RFC 7515 §7.1) over the JSON of `payload`. */
  sign(payload: object): string;
}

export interface SigningKeyFiles {
  /** The private key (JWK), created mode 0600 on first use. */
  readonly keyFile: string;
  /** The public key (JWK) a verifier pins: written once, checked on every start. */
  readonly publicFile: string;
}

/**
 * Opens the audit signing key, generating an Ed25519 key pair on first use (RFC 8037). The
 * private key never leaves `keyFile`, which must not be readable by group or others; the
 * public half is written beside the trail as `<file>.pub.jwk` for `pgkey audit verify`.
 * Keep a copy of that public file somewhere the trail's writers cannot reach: a verifier
 * pinned to it (`--key`) is what makes a re-signed, rewritten trail fail.
 */
export async function openSigningKey(files: SigningKeyFiles): Promise<AuditSigner> {
  const privateKey = await loadOrCreate(files.keyFile);
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint(publicJwk);
  await writePublicOnce(files, { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' });
  const header = base64url({ alg: 'EdDSA', typ: CHECKPOINT_TYP, kid });
  return {
    kid,
    publicJwk: { ...publicJwk, kid },
    sign(payload) {
      const input = `${header}.${base64url(payload)}`;
      return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    },
  };
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function loadOrCreate(file: string): Promise<KeyObject> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = await readPrivate(file);
    if (existing !== undefined) return existing;
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      // `wx`: two processes starting at once must not each write a key of their own.
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(`${jwk}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      return privateKey;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') continue; // the other one won
      throw failure(file, 'cannot be created', cause);
    }
  }
  throw failure(file, 'cannot be created');
}

async function readPrivate(file: string): Promise<KeyObject | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw failure(file, 'cannot be read', cause);
  }
  try {
    const stats = await handle.stat();
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new PgkeyError('ERR_CONFIG', {
        message: `audit signing key ${file}: mode ${mode} lets other users sign audit checkpoints`,
        hint: `chmod 600 ${file}`,
        reason: 'audit_key_mode',
      });
    }
    const jwk = JSON.parse(await handle.readFile('utf8')) as JsonWebKey;
    const key = createPrivateKey({ key: jwk, format: 'jwk' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 private key');
    return key;
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    throw failure(file, 'is not an Ed25519 private JWK', cause);
  } finally {
    await handle.close();
  }
}

async function writePublicOnce(files: SigningKeyFiles, jwk: JsonWebKey): Promise<void> {
  let existing: string | undefined;
  try {
    existing = await readFile(files.publicFile, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw failure(files.publicFile, 'cannot be read', cause);
    }
  }
  if (existing !== undefined) {
    let x: unknown;
    try {
      x = (JSON.parse(existing) as JsonWebKey).x;
    } catch {
      // reported below
    }
    if (x === jwk.x) return;
    throw new PgkeyError('ERR_CONFIG', {
      message: `${files.publicFile} is not the public half of the audit signing key ${files.keyFile}`,
      hint: 'a verifier pinned to it would reject every checkpoint: restore the matching key, or move the stale public file away',
      reason: 'audit_key_mismatch',
    });
  }
  try {
    const handle = await open(files.publicFile, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(jwk)}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return writePublicOnce(files, jwk);
    throw failure(files.publicFile, 'cannot be written', cause);
  }
}

function failure(file: string, what: string, cause?: unknown): PgkeyError {
  return new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
    message: `audit signing key ${file} ${what}`,
    reason: 'audit_key',
    cause,
  });
}

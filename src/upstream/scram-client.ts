import { timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from '../errors/codes.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { scramPasswordBytes } from './saslprep.ts';
import { deriveScramKeys, scramProofs } from './scram-keys.ts';
import { tlsServerEndPointHash } from './tls-server-end-point.ts';

/**
 * The client side of SCRAM-SHA-256(-PLUS) (RFC 5802, RFC 7677), used to log in to an upstream
 * PostgreSQL that cannot do certificate auth (reference/protocol.md §2.4). The upstream is
 * untrusted input: every field of its messages is capped and checked before it costs memory
 * or CPU (PgBouncer CVE-2026-6665 long nonce, CVE-2026-6669 and pgjdbc CVE-2026-42198 huge
 * iteration counts).
 */
export const SCRAM_LIMITS = {
  clientNonceBytes: 18,
  /** The whole server-first or server-final message, checked before parsing. */
  maxMessageBytes: 4096,
  maxNonceBytes: 1024,
  maxSaltBase64: 1024,
  /** PostgreSQL's default is 4096; a hostile server must not make a login cost seconds. */
  maxIterations: 100_000,
} as const;

const STEP = {
  start: 'start',
  sentClientFirst: 'sent-client-first',
  deriving: 'deriving',
  sentClientFinal: 'sent-client-final',
  done: 'done',
  failed: 'failed',
} as const;
type Step = (typeof STEP)[keyof typeof STEP];
type Call = 'initialResponse' | 'continue' | 'final';

export interface ScramClientOptions {
  readonly password: string;
  /** Mechanism names from AuthenticationSASL (R/10), in the server's order. */
  readonly mechanisms: readonly string[];
  /** The upstream's certificate (DER) when the connection is TLS: enables channel binding. */
  readonly serverCertificateDer?: Buffer;
  /** PostgreSQL ignores the SCRAM user name and uses the startup `user`; libpq sends none. */
  readonly username?: string;
  readonly random?: Random;
}

export class ScramClient {
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';
  readonly #gs2Header: string;
  readonly #channelBinding: Buffer;
  readonly #username: string;
  readonly #random: Random;
  #password: Buffer;
  #step: Step = STEP.start;
  #clientNonce = '';
  #clientFirstBare = '';
  #expectedServerSignature: Buffer = Buffer.alloc(0);

  constructor(options: ScramClientOptions) {
    const offered = new Set(options.mechanisms);
    const certificate = options.serverCertificateDer;
    if (certificate !== undefined && offered.has('SCRAM-SHA-256-PLUS')) {
      // RFC 5802 §6: bind to the TLS channel so a man in the middle cannot relay the login.
      this.mechanism = 'SCRAM-SHA-256-PLUS';
      this.#gs2Header = 'p=tls-server-end-point,,';
      this.#channelBinding = tlsServerEndPointHash(certificate);
    } else if (offered.has('SCRAM-SHA-256')) {
      // RFC 5802 §6: `y` says "I could bind, but you did not offer it", so a server that did
      // offer -PLUS detects the downgrade. Without TLS there is nothing to bind: `n`.
      this.mechanism = 'SCRAM-SHA-256';
      this.#gs2Header = certificate === undefined ? 'n,,' : 'y,,';
      this.#channelBinding = Buffer.alloc(0);
    } else {
      const message = 'the database server offers no SCRAM-SHA-256 login';
      throw fail('ERR_UPSTREAM_AUTH', 'scram_mechanism', { offered: options.mechanisms }, message);
    }
    this.#password = scramPasswordBytes(options.password);
    this.#username = (options.username ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.#random = options.random ?? cryptoRandom;
  }

  /** true once the server's signature has been verified; AuthenticationOk before that is a lie. */
  get completed(): boolean {
    return this.#step === STEP.done;
  }

  /** client-first-message (RFC 5802 §7): gs2-header + client-first-message-bare. */
  initialResponse(): Buffer {
    this.#enter('initialResponse', STEP.sentClientFirst);
    this.#clientNonce = this.#random.bytes(SCRAM_LIMITS.clientNonceBytes).toString('base64');
    this.#clientFirstBare = `n=${this.#username},r=${this.#clientNonce}`;
    return Buffer.from(this.#gs2Header + this.#clientFirstBare, 'utf8');
  }

  /** Takes server-first-message (SASLContinue, R/11), returns client-final-message. */
  async continue(serverFirst: Buffer): Promise<Buffer> {
    this.#enter('continue', STEP.deriving);
    try {
      const { text, nonce, salt, iterations } = parseServerFirst(serverFirst, this.#clientNonce);
      const keys = await deriveScramKeys(this.#password, salt, iterations);
      this.#password.fill(0);
      // A message that arrived while PBKDF2 ran has already failed the exchange.
      if (this.#step !== STEP.deriving) throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order');
      // RFC 5802 §7: c= carries the gs2 header plus the channel-binding data (RFC 5929 §4.1).
      const cbind = Buffer.concat([Buffer.from(this.#gs2Header), this.#channelBinding]);
      const withoutProof = `c=${cbind.toString('base64')},r=${nonce}`;
      // RFC 5802 §3: AuthMessage = client-first-bare "," server-first "," client-final-no-proof.
      const authMessage = `${this.#clientFirstBare},${text},${withoutProof}`;
      const { proof, serverSignature } = scramProofs(keys, authMessage);
      this.#expectedServerSignature = serverSignature;
      this.#step = STEP.sentClientFinal;
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    } catch (error) {
      this.#step = STEP.failed;
      this.#password.fill(0);
      throw error instanceof PgkeyError ? error : fail('ERR_UPSTREAM_AUTH', 'scram_derive', error);
    }
  }

  /** Verifies server-final-message (SASLFinal, R/12): `v=` in constant time, `e=` is an error. */
  final(serverFinal: Buffer): void {
    this.#enter('final', STEP.failed);
    const text = checkMessage(serverFinal);
    // RFC 5802 §7 server-error: e.g. `e=invalid-proof`. Its text is for the operator log only.
    const cause = { text: text.slice(0, 256) };
    if (text.startsWith('e=')) throw fail('ERR_UPSTREAM_AUTH', 'scram_server_error', cause);
    const match = /^v=([A-Za-z0-9+/]+={0,2})$/.exec(text);
    if (match === null) throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_malformed', cause);
    const received = Buffer.from(match[1] ?? '', 'base64');
    const expected = this.#expectedServerSignature;
    if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
      const message = 'the database server did not prove that it knows the SCRAM secret';
      throw fail('ERR_UPSTREAM_AUTH', 'scram_server_signature', undefined, message);
    }
    this.#step = STEP.done;
  }

  /** The one place that says which call is legal in which step (STYLE.md §4). */
  #enter(call: Call, next: Step): void {
    let allowed: boolean;
    const step = this.#step;
    switch (step) {
      case STEP.start:
        allowed = call === 'initialResponse';
        break;
      case STEP.sentClientFirst:
        allowed = call === 'continue';
        break;
      case STEP.sentClientFinal:
        allowed = call === 'final';
        break;
      case STEP.deriving:
      case STEP.done:
      case STEP.failed:
        allowed = false;
        break;
      default:
        throw new PgkeyError('ERR_INTERNAL', { cause: `unknown SCRAM step ${String(step)}` });
    }
    if (!allowed) {
      this.#step = STEP.failed;
      throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_out_of_order', { step, call });
    }
    this.#step = next;
  }
}

interface ServerFirst {
  readonly text: string;
  readonly nonce: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

/** RFC 5802 §7 server-first-message, strictly: `r=…,s=…,i=…` and nothing else. */
function parseServerFirst(message: Buffer, clientNonce: string): ServerFirst {
  const text = checkMessage(message);
  const cause = { text: text.slice(0, 256) };
  // RFC 5802 §5.1: an unknown mandatory extension (m=) must fail the exchange.
  if (text.startsWith('m=')) throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_extension', cause);
  const parts = text.split(',');
  const [r, s, i] = parts;
  if (parts.length !== 3 || !r?.startsWith('r=') || !s?.startsWith('s=') || !i?.startsWith('i=')) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_malformed', cause);
  }
  const nonce = r.slice(2);
  if (nonce.length > SCRAM_LIMITS.maxNonceBytes) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_nonce_length', { length: nonce.length });
  }
  // RFC 5802 §5.1: the server appends its part to ours; anything else is another exchange.
  if (!nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_nonce_mismatch', cause);
  }
  const saltText = s.slice(2);
  const salt = Buffer.from(saltText, 'base64');
  const canonical = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  if (
    saltText.length > SCRAM_LIMITS.maxSaltBase64 ||
    !canonical.test(saltText) ||
    salt.length === 0
  ) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_salt', cause);
  }
  const iterationText = i.slice(2);
  const iterations = /^[1-9][0-9]{0,9}$/.test(iterationText) ? Number(iterationText) : 0;
  if (iterations < 1 || iterations > SCRAM_LIMITS.maxIterations) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_iterations', {
      iterations: iterationText.slice(0, 32),
    });
  }
  return { text, nonce, salt, iterations };
}

/** Caps the size and requires printable ASCII (RFC 5802 §7 attribute values) before decoding. */
function checkMessage(message: Buffer): string {
  if (message.length === 0 || message.length > SCRAM_LIMITS.maxMessageBytes) {
    throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_message_length', { length: message.length });
  }
  for (const byte of message) {
    if (byte < 0x21 || byte > 0x7e) throw fail('ERR_UPSTREAM_PROTOCOL', 'scram_malformed');
  }
  return message.toString('latin1');
}

/** Server-sent text goes to `cause` only, never into the message a client may see. */
function fail(code: ErrorCode, reason: string, cause?: unknown, message?: string): PgkeyError {
  return new PgkeyError(code, { reason, cause, ...(message === undefined ? {} : { message }) });
}

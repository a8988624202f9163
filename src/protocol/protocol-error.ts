import { PgkeyError } from '../errors/pgkey-error.ts';

/**
 * A malformed or out-of-order message from a peer (SQLSTATE 08P01). The codec raises it; the
 * gateway answers FATAL (or closes silently where PostgreSQL sends nothing). The message is
 * safe to show: it describes the peer's own bytes.
 */
export function protocolViolation(reason: string, message: string): PgkeyError {
  return new PgkeyError('ERR_PROTOCOL_VIOLATION', { reason, message });
}

import { pino, type Logger as PinoLogger } from 'pino';

/**
 * Operational logs (JSON lines on stderr). Library code receives a Logger and never calls
 * console.*; the audit trail is a separate, typed channel (src/audit/).
 */
export type Logger = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error' | 'child'>;

export function createLogger(level: string = process.env.PGKEY_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'pgkey' } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for tests and commands that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });

import type { PgkeyError } from '../errors/pgkey-error.ts';
import type { RelayEndReason } from '../gateway/relay.ts';

/** What the tunnel tells its owner about each local connection (the command prints it). */
export type TunnelEvent =
  | {
      readonly kind: 'connected';
      readonly id: number;
      readonly user: string;
      readonly database: string;
      readonly application: string | undefined;
    }
  /** A connection got another token than the one before: refreshed, here or by another pgkey. */
  | { readonly kind: 'token'; readonly expiresAt: number }
  | {
      readonly kind: 'refused';
      readonly id: number;
      readonly user: string | undefined;
      readonly database: string | undefined;
      /** Who said no: the gateway (policy, token) or the tunnel itself (login, password). */
      readonly by: 'gateway' | 'tunnel';
      readonly error: PgkeyError;
    }
  | {
      readonly kind: 'closed';
      readonly id: number;
      readonly reason: RelayEndReason;
      readonly durationMs: number;
      readonly bytesFromClient: number;
      readonly bytesFromServer: number;
    }
  | { readonly kind: 'cancel'; readonly id: number; readonly forwarded: boolean };

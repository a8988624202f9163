/**
 * One Directory over any SqlDatabase: the stores are written once and run unchanged on
 * node:sqlite and PostgreSQL, so the contract suite tests the same code paths on both.
 */
import type { Directory } from './directory.ts';
import { sqlChallengeStore, sqlInviteStore } from './sql-ceremonies.ts';
import { sqlCredentialStore } from './sql-credentials.ts';
import { closedError, type ChangeHub, type SqlDatabase } from './sql-database.ts';
import { sqlMintedTokenStore } from './sql-minted-tokens.ts';
import { sqlOidcStore, sqlSigningKeyStore } from './sql-provider.ts';
import { sqlUserStore } from './sql-users.ts';

export function createSqlDirectory(
  db: SqlDatabase,
  hub: ChangeHub,
  shutdown: () => Promise<void>,
): Directory {
  let closing: Promise<void> | undefined;
  return {
    kind: db.kind,
    users: sqlUserStore(db),
    credentials: sqlCredentialStore(db),
    invites: sqlInviteStore(db),
    challenges: sqlChallengeStore(db),
    oidc: sqlOidcStore(db),
    signingKeys: sqlSigningKeyStore(db),
    tokenServiceKeys: sqlSigningKeyStore(db, 'token_service_keys'),
    mintedTokens: sqlMintedTokenStore(db),
    subscribe(listener) {
      if (closing !== undefined) throw closedError();
      return hub.subscribe(listener);
    },
    close() {
      // Idempotent: every caller waits for the same shutdown.
      closing ??= shutdown();
      return closing;
    },
  };
}

/**
 * Account sessions: pgkey's own sign-in for its pages (/me, /admin), apart from
 * oidc-provider's session, which belongs to the OpenID flows. A session is made by a WebAuthn
 * ceremony (sign-in or enrollment) and records which key made it and when.
 *
 * Kept in the directory's provider store under its own model, so every node sharing the
 * directory knows it, and it ends at `auth_time + idp.session_max` like every token does.
 * The cookie holds a random id; the store holds only its SHA-256, so a copy of the directory
 * does not hand out live sessions.
 *
 * `resume` re-checks the session against the directory on every request: a disabled user, a
 * revoked or flagged key, or a `tokensValidAfter` after the sign-in (bumped by disabling and
 * by group removal) end it then and there.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../runtime/clock.ts';
import type { Random } from '../../runtime/random.ts';
import type {
  Credential,
  OidcStore,
  User,
  UserStore,
  CredentialStore,
} from '../../store/directory.ts';
import { newCsrfToken } from './csrf.ts';

const MODEL = 'PgkeyAccountSession';
const ID_BYTES = 32;

export interface AccountSession {
  /** The id in the cookie (never stored). */
  readonly id: string;
  readonly userId: string;
  /** When the ceremony behind it happened, ms. */
  readonly authTime: number;
  readonly credentialId: string;
  /** What the ceremony proved (`phr`, `phrh`), as the provider's tokens would say. */
  readonly acr: string;
  /** The synchronizer token for this session's forms (csrf.ts). */
  readonly csrf: string;
  readonly expiresAt: number;
}

/** A session that may still be used, with its user and key as they are now. */
export interface ActiveSession {
  readonly session: AccountSession;
  readonly user: User;
  readonly credential: Credential;
}

export interface NewAccountSession {
  readonly userId: string;
  readonly credentialId: string;
  readonly acr: string;
}

export interface AccountSessions {
  create(login: NewAccountSession): Promise<AccountSession>;
  /** The session named by `id` if it may still be used; otherwise it is destroyed. */
  resume(id: string): Promise<ActiveSession | undefined>;
  destroy(id: string): Promise<void>;
}

export interface AccountSessionDeps {
  readonly store: OidcStore;
  readonly users: Pick<UserStore, 'get'>;
  readonly credentials: Pick<CredentialStore, 'get'>;
  readonly clock: Clock;
  readonly random: Random;
  /** `idp.session_max`, ms. */
  readonly lifetimeMs: number;
}

const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url');

function parse(id: string, payload: Readonly<Record<string, unknown>>): AccountSession | undefined {
  const { userId, authTime, credentialId, acr, csrf, expiresAt } = payload;
  if (
    typeof userId !== 'string' ||
    typeof authTime !== 'number' ||
    typeof credentialId !== 'string' ||
    typeof acr !== 'string' ||
    typeof csrf !== 'string' ||
    typeof expiresAt !== 'number'
  ) {
    return undefined;
  }
  return { id, userId, authTime, credentialId, acr, csrf, expiresAt };
}

export function accountSessions(deps: AccountSessionDeps): AccountSessions {
  const { store, clock } = deps;
  const destroy = (id: string) => store.destroy(MODEL, keyOf(id));

  return {
    async create(login) {
      const now = clock.now();
      const id = deps.random.bytes(ID_BYTES).toString('base64url');
      const payload = {
        userId: login.userId,
        credentialId: login.credentialId,
        acr: login.acr,
        authTime: now,
        csrf: newCsrfToken(deps.random),
        expiresAt: now + deps.lifetimeMs,
      };
      await store.upsert(MODEL, keyOf(id), payload, payload.expiresAt, {});
      return { id, ...payload };
    },

    async resume(id) {
      const record = await store.find(MODEL, keyOf(id), clock.now());
      const session = record === undefined ? undefined : parse(id, record.payload);
      if (session === undefined) {
        if (record !== undefined) await destroy(id);
        return undefined;
      }
      const [user, credential] = await Promise.all([
        deps.users.get(session.userId),
        deps.credentials.get(session.credentialId),
      ]);
      const usable =
        user !== undefined &&
        !user.disabled &&
        session.authTime >= user.tokensValidAfter &&
        credential !== undefined &&
        credential.userId === user.id &&
        credential.revokedAt === undefined &&
        credential.flaggedReason === undefined;
      if (!usable) {
        await destroy(id);
        return undefined;
      }
      return { session, user, credential };
    },

    destroy,
  };
}

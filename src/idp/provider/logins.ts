/**
 * Login records: what one WebAuthn ceremony proved — which credential, its AAGUID, whether it
 * is device-bound and attested — saved when the login interaction finishes.
 *
 * Keyed by the login itself: the account and its `auth_time` (seconds). oidc-provider copies
 * exactly that pair from the session into every authorization code, device code and refresh
 * token of the chain (lib/models/*.js `accountId`, `authTime`), so a token always finds the
 * ceremony that its `auth_time` and `acr` describe — also after silent re-authorization, a
 * later re-login in the same browser, or any number of refreshes. A grant id would not do:
 * one grant outlives several logins.
 *
 * Two ceremonies of one account within one second would share a key; the later one then
 * takes the previous second instead (an older `auth_time` only ever makes freshness checks
 * stricter).
 */
import type { Clock } from '../../runtime/clock.ts';
import type { OidcStore } from '../../store/directory.ts';

const MODEL = 'PgkeyLogin';
/** How far back a colliding login may move its `auth_time`. */
const MAX_COLLISION_STEPS = 5;

export interface LoginRecord {
  readonly accountId: string;
  /** `auth_time`: seconds since the epoch. */
  readonly authTime: number;
  /** The ceremony instant in milliseconds (compared with `User.tokensValidAfter`). */
  readonly at: number;
  readonly credentialId: string;
  readonly aaguid: string;
  readonly deviceBound: boolean;
  readonly attested: boolean;
  readonly userVerified: boolean;
  readonly acr: string;
  readonly amr: readonly string[];
}

export type NewLogin = Omit<LoginRecord, 'authTime' | 'at'>;

export interface LoginRecords {
  /** Saves a login made now; returns the record with the `auth_time` it was given. */
  save(login: NewLogin): Promise<LoginRecord>;
  find(accountId: string, authTime: number): Promise<LoginRecord | undefined>;
}

const idOf = (accountId: string, authTime: number): string => `${accountId}:${authTime}`;

function parse(payload: Readonly<Record<string, unknown>>): LoginRecord | undefined {
  const { accountId, authTime, at, credentialId, aaguid, deviceBound, attested } = payload;
  const { userVerified, acr, amr } = payload;
  if (
    typeof accountId !== 'string' ||
    typeof authTime !== 'number' ||
    typeof at !== 'number' ||
    typeof credentialId !== 'string' ||
    typeof aaguid !== 'string' ||
    typeof deviceBound !== 'boolean' ||
    typeof attested !== 'boolean' ||
    typeof userVerified !== 'boolean' ||
    typeof acr !== 'string' ||
    !Array.isArray(amr) ||
    !amr.every((value) => typeof value === 'string')
  ) {
    return undefined;
  }
  return {
    ...{ accountId, authTime, at, credentialId, aaguid, deviceBound, attested },
    ...{ userVerified, acr, amr },
  };
}

/** `lifetimeMs` is `idp.session_max`: nothing may use a login for longer. */
export function loginRecords(store: OidcStore, clock: Clock, lifetimeMs: number): LoginRecords {
  const find = async (accountId: string, authTime: number) => {
    const record = await store.find(MODEL, idOf(accountId, authTime), clock.now());
    return record === undefined ? undefined : parse(record.payload);
  };
  return {
    find,
    async save(login) {
      const at = clock.now();
      let authTime = Math.floor(at / 1000);
      for (let step = 0; step < MAX_COLLISION_STEPS; step++) {
        if ((await find(login.accountId, authTime)) === undefined) break;
        authTime--;
      }
      const record: LoginRecord = { ...login, amr: [...login.amr], authTime, at };
      await store.upsert(
        MODEL,
        idOf(login.accountId, authTime),
        { ...record },
        at + lifetimeMs,
        {},
      );
      return record;
    },
  };
}

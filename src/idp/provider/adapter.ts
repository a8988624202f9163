/**
 * oidc-provider's storage adapter (its example/my_adapter.js contract) over the directory's
 * OidcStore, so sessions, grants, codes and refresh tokens live in sqlite or PostgreSQL with
 * everything else. One adapter instance per model name; the directory keys rows by
 * (model, id) and indexes grantId, userCode and uid for the lookups oidc-provider makes.
 *
 * Single use. oidc-provider checks `consumed` on a record it read earlier, then consumes it:
 * two redemptions racing through that gap would both pass. `consume` therefore re-reads the
 * record and refuses (RFC 6749 §4.1.2: "the authorization server MUST deny the request and
 * SHOULD revoke … all tokens previously issued based on that authorization code"), and
 * serializes consumption of one id inside this process. Across PostgreSQL nodes the last
 * race needs a compare-and-set `consume` in the store (it cannot report "already consumed"
 * today).
 */
import { errors } from 'oidc-provider';
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { OidcRecord, OidcStore } from '../../store/directory.ts';
import type { Clock } from '../../runtime/clock.ts';

function toPayload(record: OidcRecord | undefined): AdapterPayload | undefined {
  if (record === undefined) return undefined;
  const payload: AdapterPayload = { ...record.payload };
  if (record.consumedAt !== undefined) {
    // oidc-provider reads `consumed` as a truthy epoch-seconds value.
    payload.consumed = Math.max(1, Math.floor(record.consumedAt / 1000));
  }
  return payload;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function directoryAdapter(store: OidcStore, clock: Clock): AdapterConstructor {
  const consuming = new Map<string, Promise<unknown>>();

  return class DirectoryAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined) {
      const expiresAt =
        expiresIn === undefined || !Number.isFinite(expiresIn)
          ? undefined
          : clock.now() + expiresIn * 1000;
      await store.upsert(this.#model, id, payload, expiresAt, {
        grantId: optionalString(payload.grantId),
        userCode: optionalString(payload.userCode),
        uid: optionalString(payload.uid),
      });
    }

    async find(id: string) {
      return toPayload(await store.find(this.#model, id, clock.now()));
    }

    async findByUserCode(userCode: string) {
      return toPayload(await store.findByUserCode(this.#model, userCode, clock.now()));
    }

    async findByUid(uid: string) {
      return toPayload(await store.findByUid(this.#model, uid, clock.now()));
    }

    async consume(id: string) {
      const key = `${this.#model}\u0000${id}`;
      // One consumption of an id at a time: a second one waits, then finds it consumed.
      const turn = (consuming.get(key) ?? Promise.resolve()).then(() => this.#consumeOnce(id));
      const settled = turn.catch(() => undefined);
      consuming.set(key, settled);
      try {
        await turn;
      } finally {
        if (consuming.get(key) === settled) consuming.delete(key);
      }
    }

    async #consumeOnce(id: string) {
      const record = await store.find(this.#model, id, clock.now());
      if (record?.consumedAt !== undefined) {
        // Reuse: revoke the grant's tokens and the grant itself, so a refresh token that a
        // racing first redemption is still issuing can never be redeemed either.
        const grantId = optionalString(record.payload.grantId);
        if (grantId !== undefined) {
          await store.revokeByGrantId(grantId);
          await store.destroy('Grant', grantId);
        }
        throw new errors.InvalidGrant(`${this.#model} already consumed`);
      }
      await store.consume(this.#model, id, clock.now());
    }

    async destroy(id: string) {
      await store.destroy(this.#model, id);
    }

    /** The store drops every model's rows of the grant at once; oidc-provider drops the Grant. */
    async revokeByGrantId(grantId: string) {
      await store.revokeByGrantId(grantId);
    }
  };
}

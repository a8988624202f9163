/**
 * The token service's signing keys (ES256, RFC 7518 §3.4). They live in the directory's own
 * table (`token_service_keys`), apart from the provider's, so every node and every restart
 * signs with the same keys and neither signer ever publishes the other's. Their life cycle
 * is the provider's (idp/provider/signing-keys.ts: published before signing, retired, kept
 * until what they signed expired); this class follows it as time passes, re-reading the
 * directory when the next key event is due.
 *
 * The gateway in the same process verifies with `keySource` straight from memory; other
 * verifiers fetch `<issuer>/jwks.json`.
 */
import { importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { loadProviderKeys, type ProviderKeys } from '../idp/provider/signing-keys.ts';
import { memoryKeySource, type KeySource } from '../identity/issuer-keys.ts';
import type { Clock } from '../runtime/clock.ts';
import type { SigningKeyStore } from '../store/directory.ts';

/** Private members of an EC JWK (RFC 7518 §6.2.2): never published. */
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

export interface Signer {
  readonly kid: string;
  readonly key: CryptoKey;
}

export class ServiceKeys {
  readonly #store: SigningKeyStore;
  readonly #clock: Clock;
  #keys: ProviderKeys;
  #jwks: JSONWebKeySet;
  #signer: Promise<Signer>;

  private constructor(store: SigningKeyStore, clock: Clock, keys: ProviderKeys) {
    this.#store = store;
    this.#clock = clock;
    this.#keys = keys;
    this.#jwks = publicJwks(keys);
    this.#signer = importSigner(keys);
  }

  /** Loads the keys, creating the first one (signing at once) on a new directory. */
  static async load(store: SigningKeyStore, clock: Clock): Promise<ServiceKeys> {
    return new ServiceKeys(store, clock, await loadProviderKeys(store, clock));
  }

  /** The published set: the same object until the keys change. */
  get jwks(): JSONWebKeySet {
    return this.#jwks;
  }

  /** For the gateway's verifier in this process. */
  readonly keySource: KeySource = memoryKeySource(() => this.#jwks);

  /** The key that signs now, re-reading the directory when a key event is due. */
  async signer(): Promise<Signer> {
    const due = this.#keys.nextChangeAt;
    if (due !== undefined && this.#clock.now() >= due) await this.refresh();
    return this.#signer;
  }

  /** Re-reads the directory (a rotation by another node, a reload). */
  async refresh(): Promise<void> {
    const keys = await loadProviderKeys(this.#store, this.#clock);
    const signer = importSigner(keys);
    await signer;
    this.#keys = keys;
    this.#jwks = publicJwks(keys);
    this.#signer = signer;
  }
}

function publicJwks(keys: ProviderKeys): JSONWebKeySet {
  return Object.freeze({
    keys: keys.jwks.keys.map(
      (jwk) =>
        Object.fromEntries(
          Object.entries(jwk).filter(([member]) => !PRIVATE_MEMBERS.has(member)),
        ) as JWK,
    ),
  });
}

async function importSigner(keys: ProviderKeys): Promise<Signer> {
  const jwk = keys.jwks.keys.find((key) => key.kid === keys.signingKid) as JWK | undefined;
  if (jwk === undefined) throw new TypeError('the signing key is not in the key set');
  const key = await importJWK(jwk, 'ES256');
  return { kid: keys.signingKid, key: key as CryptoKey };
}

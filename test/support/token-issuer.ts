/**
 * A test identity provider: real keys, real signatures, hand-built headers (so tests can sign
 * hostile tokens jose's signer would refuse to build), and optionally a real loopback HTTP
 * server for OIDC discovery + JWKS with fault injection.
 *
 *   const idp = await TestIssuer.create({ clock });        // https://idp.test.pgkey, ES256, key-1
 *   const token = await idp.humanToken({ groups: ['dba'] });
 *   const file = await idp.writeJwksFile(tmpDir);          // for `jwks_file` issuers
 *   const config = idp.issuerConfig({ jwks_file: file });  // schema-parsed; name 'test', builtin
 *
 * sign() fills iss, sub 'alice', aud 'pgkey', iat (from `now`, else the clock, else Date.now())
 * and exp (iat + 300 s); a claim or header value of `undefined` removes it. The header defaults
 * to { alg, kid, typ: 'at+jwt' }. rotate() publishes a second key (sign({ key: 'rotated' })),
 * removeKey(kid) unpublishes one, publicKeyPem is what an HS256 key-confusion attacker would use,
 * and segment() builds base64url JSON segments for hand-forged tokens.
 *
 * ServedIssuer (TestIssuer.serve()) — issuer becomes http://127.0.0.1:<port>[path]:
 * - `GET <issuer>/.well-known/openid-configuration` → { issuer, jwks_uri: <issuer>/jwks }
 * - `GET <issuer>/jwks` → publicJwks (follows rotate() / removeKey() live)
 * - `mode` (JWKS endpoint) and `discoveryMode` (discovery endpoint) pick a fault:
 *   'ok' | '500' | 'timeout' (never answers until close()) | 'invalid-json' |
 *   'duplicate-kid' (JWKS only) | 'oversize' (a 2 MiB body) | 'redirect' (302 to a copy)
 * - `discoveryIssuer` / `discoveryJwksUri`: advertise these in discovery instead of the real ones
 * - `requests`: { total, discovery, jwks } hit counters; `resetRequests()`; `close()`
 */
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { configSchema, type ConfigInput, type IssuerConfig } from '../../src/config/schema.ts';
import type { Clock } from '../../src/runtime/clock.ts';

export type TestAlg = 'ES256' | 'RS256' | 'EdDSA';
export type FaultMode =
  'ok' | '500' | 'timeout' | 'invalid-json' | 'duplicate-kid' | 'oversize' | 'redirect';
export type IssuerInput = ConfigInput['issuers'][number];

export interface SignOptions {
  /** Merged over { alg, kid, typ: 'at+jwt' }; a value of `undefined` removes the parameter. */
  readonly header?: Record<string, unknown>;
  readonly ttlSeconds?: number;
  /** Issue time in ms; default: the issuer's clock, else Date.now(). */
  readonly now?: number;
  readonly key?: 'primary' | 'rotated';
}

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

/** base64url(JSON) — one JWS segment (RFC 7515 §7.1). */
export function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function generate(alg: TestAlg, kid: string): SigningKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } as JWK;
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

function signature(alg: TestAlg, key: KeyObject, input: string): string {
  const data = Buffer.from(input);
  // RFC 7518 §3.4: ECDSA signatures are R||S, not DER.
  const sig =
    alg === 'ES256'
      ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
      : cryptoSign(alg === 'RS256' ? 'sha256' : null, data, key);
  return sig.toString('base64url');
}

export class TestIssuer {
  readonly issuer: string;
  readonly alg: TestAlg;
  readonly #clock: Clock | undefined;
  #keys: SigningKey[];
  #rotated: SigningKey | undefined;
  readonly #primary: SigningKey;

  protected constructor(issuer: string, alg: TestAlg, kid: string, clock: Clock | undefined) {
    this.issuer = issuer;
    this.alg = alg;
    this.#clock = clock;
    this.#primary = generate(alg, kid);
    this.#keys = [this.#primary];
  }

  // Promise-returning (the API is async so key generation may move off-thread later).
  static create(
    options: { issuer?: string; alg?: TestAlg; kid?: string; clock?: Clock } = {},
  ): Promise<TestIssuer> {
    const { issuer = 'https://idp.test.pgkey', alg = 'ES256', kid = 'key-1', clock } = options;
    return Promise.resolve(new TestIssuer(issuer, alg, kid, clock));
  }

  static async serve(
    options: { alg?: TestAlg; kid?: string; clock?: Clock; path?: string } = {},
  ): Promise<ServedIssuer> {
    return ServedIssuer.start(options);
  }

  get kid(): string {
    return this.#primary.kid;
  }

  get rotatedKid(): string | undefined {
    return this.#rotated?.kid;
  }

  /** The published JWKS (a fresh copy each time). */
  get publicJwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => ({ ...k.jwk })) };
  }

  /** The primary public key as SPKI PEM: what an attacker would use as an HMAC secret. */
  get publicKeyPem(): string {
    return this.#primary.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  /** A schema-parsed IssuerConfig for this issuer (defaults filled as in a real config). */
  issuerConfig(overrides: Partial<IssuerInput> = {}): IssuerConfig {
    const input = { name: 'test', issuer: this.issuer, audience: 'pgkey', profile: 'builtin' };
    return configSchema.shape.issuers.element.parse({ ...input, ...overrides });
  }

  async writeJwksFile(dir: string): Promise<string> {
    const path = join(dir, `jwks-${this.kid}.json`);
    await writeFile(path, JSON.stringify(this.publicJwks, null, 2));
    return path;
  }

  sign(claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
    const key = options.key === 'rotated' ? this.#rotated : this.#primary;
    if (key === undefined) {
      return Promise.reject(new TypeError('sign({ key: "rotated" }) before rotate()'));
    }
    const iat = Math.floor((options.now ?? this.#clock?.now() ?? Date.now()) / 1000);
    const header = { alg: this.alg, kid: key.kid, typ: 'at+jwt', ...options.header };
    const payload = {
      iss: this.issuer,
      sub: 'alice',
      aud: 'pgkey',
      iat,
      exp: iat + (options.ttlSeconds ?? 300),
      ...claims,
    };
    const input = `${segment(header)}.${segment(payload)}`;
    return Promise.resolve(`${input}.${signature(this.alg, key.privateKey, input)}`);
  }

  /** A human FIDO2 token for the builtin profile: acr phrh, amr [hwk, user], auth_time = now. */
  humanToken(overrides: Record<string, unknown> = {}, options: SignOptions = {}): Promise<string> {
    const now = Math.floor((options.now ?? this.#clock?.now() ?? Date.now()) / 1000);
    return this.sign({ acr: 'phrh', amr: ['hwk', 'user'], auth_time: now, ...overrides }, options);
  }

  /** Publishes a new key (new kid); sign({ key: 'rotated' }) uses it. */
  rotate(): Promise<void> {
    this.#rotated = generate(this.alg, `${this.kid}-r${this.#keys.length}`);
    this.#keys.push(this.#rotated);
    return Promise.resolve();
  }

  /** Stops publishing a key (tokens it signed keep their signature, but no longer verify). */
  removeKey(kid: string): void {
    this.#keys = this.#keys.filter((k) => k.kid !== kid);
  }
}

export class ServedIssuer extends TestIssuer {
  mode: FaultMode = 'ok';
  discoveryMode: FaultMode = 'ok';
  discoveryIssuer: string | undefined;
  discoveryJwksUri: string | undefined;
  readonly requests = { total: 0, discovery: 0, jwks: 0 };
  readonly #server: Server;

  private constructor(
    issuer: string,
    options: { alg?: TestAlg; kid?: string; clock?: Clock },
    server: Server,
  ) {
    super(issuer, options.alg ?? 'ES256', options.kid ?? 'key-1', options.clock);
    this.#server = server;
  }

  static async start(options: {
    alg?: TestAlg;
    kid?: string;
    clock?: Clock;
    path?: string;
  }): Promise<ServedIssuer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const served = new ServedIssuer(
      `http://127.0.0.1:${port}${options.path ?? ''}`,
      options,
      server,
    );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      served.handle(req.url ?? '/', res);
    });
    return served;
  }

  get base(): string {
    return this.issuer.replace(/\/$/, '');
  }

  get jwksUri(): string {
    return `${this.base}/jwks`;
  }

  resetRequests(): void {
    Object.assign(this.requests, { total: 0, discovery: 0, jwks: 0 });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private handle(url: string, res: ServerResponse): void {
    this.requests.total += 1;
    const path = new URL(this.base).pathname.replace(/\/$/, '');
    if (url === `${path}/.well-known/openid-configuration`) {
      this.requests.discovery += 1;
      const doc = {
        issuer: this.discoveryIssuer ?? this.issuer,
        jwks_uri: this.discoveryJwksUri ?? this.jwksUri,
      };
      this.respond(res, this.discoveryMode, doc);
    } else if (url === `${path}/jwks`) {
      this.requests.jwks += 1;
      this.respond(res, this.mode, this.publicJwks);
    } else if (url === `${path}/jwks-moved`) {
      this.respond(res, 'ok', this.publicJwks);
    } else {
      res.writeHead(404).end();
    }
  }

  private respond(res: ServerResponse, mode: FaultMode, body: unknown): void {
    const json = (text: string): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    };
    switch (mode) {
      case 'ok':
        return json(JSON.stringify(body));
      case '500':
        return void res.writeHead(500).end('upstream exploded');
      case 'timeout':
        return; // hold the request open until close()
      case 'invalid-json':
        return json('{"keys": [');
      case 'duplicate-kid': {
        const { keys } = this.publicJwks;
        return json(JSON.stringify({ keys: [...keys, ...keys] }));
      }
      case 'oversize':
        return json(`{"keys": []${' '.repeat(2 * 1024 * 1024)}}`);
      case 'redirect':
        return void res.writeHead(302, { location: `${this.base}/jwks-moved` }).end();
      default:
        throw new TypeError(`unknown fault mode ${String(mode satisfies never)}`);
    }
  }
}

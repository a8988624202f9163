/**
 * A stand-in for pgkey's token service, just the two endpoints the client commands use:
 *
 * - `GET /.well-known/pgkey-configuration`: the bootstrap document `pgkey login URL` reads;
 * - `GET /v1/whoami` with a Bearer token: the token verified against the issuer's JWKS
 *   (discovery), and the grants of every policy rule whose groups the token carries.
 *
 * The real service lives in src/sts; this one keeps the client tests independent of it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { ConfigInput } from '../../src/config/schema.ts';

export interface FakeTokenService {
  readonly url: string;
  /** Requests to /v1/whoami so far. */
  readonly whoamiCalls: number;
  close(): Promise<void>;
}

export interface FakeTokenServiceOptions {
  readonly issuer: string;
  readonly audience?: string;
  readonly gateway: { readonly host: string; readonly port: number };
  readonly gatewayCaPem?: string;
  readonly policy: NonNullable<ConfigInput['policy']>;
  readonly clientId?: string;
}

export async function startFakeTokenService(
  options: FakeTokenServiceOptions,
): Promise<FakeTokenService> {
  let whoamiCalls = 0;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keys = async () => {
    if (jwks !== undefined) return jwks;
    const discovery = (await (
      await fetch(`${options.issuer}/.well-known/openid-configuration`)
    ).json()) as { jwks_uri: string };
    jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
    return jwks;
  };
  let url = '';
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/pgkey-configuration') {
      return send(200, {
        issuer: options.issuer,
        client_id: options.clientId ?? 'pgkey-cli',
        gateway: options.gateway,
        ...(options.gatewayCaPem === undefined ? {} : { gateway_ca_pem: options.gatewayCaPem }),
        token_service: url,
      });
    }
    if (path !== '/v1/whoami') return send(404, { error: 'not_found' });
    whoamiCalls += 1;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined) return send(401, { error: 'invalid_token' });
    keys()
      .then((set) =>
        jwtVerify(token, set, {
          issuer: options.issuer,
          audience: options.audience ?? 'pgkey',
        }),
      )
      .then(({ payload }) => {
        const groups = Array.isArray(payload.groups) ? payload.groups.map(String) : [];
        const grants = options.policy.flatMap((rule) =>
          (rule.match?.groups ?? []).some((g) => groups.includes(g))
            ? rule.databases.flatMap((database) =>
                rule.roles.map((role) => ({ database, role, rule: rule.name })),
              )
            : [],
        );
        send(200, {
          identity: { subject: payload.sub, email: payload.email, groups, issuer: payload.iss },
          grants,
        });
      })
      .catch((error: unknown) =>
        send(401, { error: 'invalid_token', error_description: (error as Error).message }),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get whoamiCalls() {
      return whoamiCalls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { Profile } from '../client/profiles.ts';
import { PgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import { BACKEND } from '../protocol/constants.ts';
import { sendUpstreamCancel } from '../upstream/cancel.ts';
import {
  connectUpstream,
  type UpstreamConnection,
  type UpstreamTarget,
} from '../upstream/connector.ts';

/** How long the gateway may take to answer a login (TCP, TLS, token, policy, PostgreSQL). */
const LOGIN_TIMEOUT_MS = 20_000;

/** What the tunnel asks the gateway for on behalf of one local client. */
export interface GatewayLogin {
  readonly user: string;
  readonly database: string;
  /** The client's other startup parameters, as it sent them; the gateway decides. */
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  readonly protocolMinor: number;
  readonly token: string;
}

/**
 * The profile's gateway as the tunnel dials it: the same checks `pgkey psql` asks libpq for
 * (`sslmode=verify-full`, the profile's CA, the gateway's host name in its certificate), with
 * pgkey's own client (src/upstream/connector.ts) doing the login, so the token never leaves
 * this machine except inside that TLS. Cancels go the same way (src/upstream/cancel.ts).
 */
export interface GatewayDialer {
  /** `host:port`, for messages. */
  readonly name: string;
  login(request: GatewayLogin): Promise<UpstreamConnection>;
  /** Forwards a CancelRequest with the gateway's own key; best effort. */
  cancel(processId: number, secretKey: Buffer): Promise<boolean>;
}

export async function gatewayDialer(profile: Profile): Promise<GatewayDialer> {
  const { host, port } = profile.gateway;
  const target: UpstreamTarget = {
    host,
    port,
    servername: host,
    ca: await trustedCertificates(profile),
  };
  const name = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    name,
    async login(request) {
      try {
        return await connectUpstream(target, {
          role: request.user,
          database: request.database,
          parameters: request.parameters,
          credential: { kind: 'token', token: request.token },
          timeoutMs: LOGIN_TIMEOUT_MS,
          protocolMinor: request.protocolMinor,
          refusal: (fields, body) => new GatewayRefusal(fields, body),
        });
      } catch (error) {
        throw error instanceof GatewayRefusal ? error : unreachable(name, error);
      }
    },
    cancel: (processId, secretKey) =>
      sendUpstreamCancel(target, { address: host, port }, processId, secretKey),
  };
}

/**
 * The gateway said no during login (policy denial, bad token, unknown database …). Its
 * ErrorResponse is written for clients already — no internals, a HINT saying what would
 * grant access — so the local client gets it byte for byte.
 */
export class GatewayRefusal extends PgkeyError {
  /** The whole 'E' ErrorResponse message as the gateway sent it. */
  readonly response: Buffer;
  readonly #sqlstate: string;

  constructor(fields: ReadonlyMap<string, string>, body: Buffer) {
    super('ERR_UPSTREAM_REFUSED', {
      message: fields.get('M') ?? 'the gateway refused the connection',
      detail: fields.get('D'),
      hint: fields.get('H'),
      reason: 'gateway_refused',
    });
    const header = Buffer.alloc(5);
    header.writeUInt8(BACKEND.ErrorResponse, 0);
    header.writeUInt32BE(4 + body.length, 1);
    this.response = Buffer.concat([header, body]);
    this.#sqlstate = fields.get('C') ?? ERROR_SQLSTATE;
  }

  override get sqlstate(): string {
    return this.#sqlstate;
  }
}

/** PostgreSQL's "connection_failure" class: what a refusal without a code is. */
const ERROR_SQLSTATE = '08006';

/**
 * No answer from the gateway (refused, timed out, TLS not verified, not a pgkey gateway):
 * said with the gateway's name, which the local person knows, and the reason from Node
 * (a certificate error names what did not match).
 */
function unreachable(name: string, error: unknown): PgkeyError {
  if (isPgkeyError(error, 'ERR_UPSTREAM_AUTH')) {
    // SASL instead of a password request: the OAUTHBEARER listener, or not pgkey at all.
    return new PgkeyError('ERR_UPSTREAM_AUTH', {
      message: `${name} did not ask for a token as the password, as a pgkey gateway's main port does`,
      hint: 'point the profile at the address of the gateway’s listen.address (listen.oauth is for libpq 18)',
      reason: 'gateway_auth_method',
      cause: error,
    });
  }
  const code = isPgkeyError(error) ? error.code : 'ERR_UPSTREAM_UNAVAILABLE';
  const why = describe(error);
  return new PgkeyError(code === 'ERR_UPSTREAM_TLS' ? code : 'ERR_UPSTREAM_UNAVAILABLE', {
    message:
      code === 'ERR_UPSTREAM_TLS'
        ? `the pgkey gateway ${name} did not pass TLS verification${why}`
        : `could not connect to the pgkey gateway ${name}${why}`,
    hint:
      code === 'ERR_UPSTREAM_TLS'
        ? 'check gateway_ca_file in the profile (pgkey login sets it with --ca)'
        : undefined,
    reason: isPgkeyError(error) ? error.reason : 'gateway_unreachable',
    cause: error,
  });
}

function describe(error: unknown): string {
  let current: unknown = error;
  // The innermost Node error says it best: ECONNREFUSED, "Hostname/IP does not match …".
  while (isPgkeyError(current) && current.cause !== undefined) current = current.cause;
  if (isPgkeyError(current)) return current.reason === 'upstream_timeout' ? ': timed out' : '';
  const node = current as NodeJS.ErrnoException | undefined;
  const text = node?.code ?? node?.message;
  return text === undefined ? '' : `: ${text}`;
}

/**
 * The CA bundle for verify-full: the profile's file, else the system's store together with
 * Node's bundled roots (libpq's `sslrootcert=system`, which `pgkey psql` passes then).
 */
async function trustedCertificates(profile: Profile): Promise<string> {
  if (profile.gateway_ca_file === undefined) {
    const roots = new Set([...tls.getCACertificates('system'), ...tls.getCACertificates()]);
    return [...roots].join('\n');
  }
  try {
    return await readFile(profile.gateway_ca_file, 'utf8');
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `cannot read the gateway CA ${profile.gateway_ca_file} of profile "${profile.name}"`,
      hint: `pgkey login --profile ${profile.name} --ca FILE sets it`,
      cause,
    });
  }
}

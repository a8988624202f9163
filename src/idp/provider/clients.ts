/**
 * The provider's relying parties: the built-in `pgkey-cli` and the configured `idp.clients`,
 * as oidc-provider client metadata (OpenID Connect Dynamic Client Registration 1.0 §2 names).
 *
 * - `pgkey-cli` is a public native client (RFC 8252): loopback redirects on any port
 *   (§7.3; oidc-provider ignores the port of an `http` loopback redirect for
 *   `application_type: native`, lib/models/client.js), IP literals rather than `localhost`
 *   (§8.3), no secret, PKCE (RFC 7636) like every client here.
 * - Configured clients are web clients: their redirect URIs are compared byte for byte
 *   (reliability.md E27), a secret file makes them confidential (`client_secret_basic`).
 * - The device grant (RFC 8628) only for clients that opt in.
 */
import { readFile } from 'node:fs/promises';
import type { IdpConfig } from '../../config/schema.ts';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { CLI_CLIENT_ID, DEVICE_CODE_GRANT } from './settings.ts';

/** The loopback callbacks `pgkey login` listens on, any port. */
export const CLI_REDIRECT_URIS = ['http://127.0.0.1/callback', 'http://[::1]/callback'] as const;

/** A secret shorter than this is guessable offline (RFC 6749 §10.10). */
const MIN_SECRET_LENGTH = 32;
const MAX_SECRET_FILE_BYTES = 4096;

export interface ClientPolicy {
  /** Clients whose access tokens are for the gateway (`aud` = idp.audience). */
  readonly gatewayClients: ReadonlySet<string>;
  /** Clients allowed the device authorization grant. */
  readonly deviceClients: ReadonlySet<string>;
}

export interface ClientSetup extends ClientPolicy {
  readonly metadata: readonly Readonly<Record<string, unknown>>[];
}

function grantTypes(deviceFlow: boolean): string[] {
  return ['authorization_code', 'refresh_token', ...(deviceFlow ? [DEVICE_CODE_GRANT] : [])];
}

async function readSecret(clientId: string, file: string): Promise<string> {
  const fail = (problem: string, cause?: unknown) =>
    new PgkeyError('ERR_CONFIG', {
      message: `idp.clients "${clientId}": client_secret_file ${file}: ${problem}`,
      reason: 'client_secret_invalid',
      cause,
    });
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_SECRET_FILE_BYTES) throw fail('is too large for a secret');
    text = bytes.toString('utf8').trim();
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    throw fail(`cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
  if (text.length < MIN_SECRET_LENGTH || /\s/.test(text)) {
    throw fail(`must hold one secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  return text;
}

export async function loadClients(config: IdpConfig): Promise<ClientSetup> {
  const cli = {
    client_id: CLI_CLIENT_ID,
    client_name: 'pgkey command line',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: [...CLI_REDIRECT_URIS],
    response_types: ['code'],
    grant_types: grantTypes(config.cli_device_flow),
    id_token_signed_response_alg: 'ES256',
    require_auth_time: true,
  };
  const configured = await Promise.all(
    config.clients.map(async (client) => ({
      client_id: client.client_id,
      application_type: 'web',
      redirect_uris: [...client.redirect_uris],
      post_logout_redirect_uris: [...client.post_logout_redirect_uris],
      response_types: ['code'],
      grant_types: grantTypes(client.device_flow),
      id_token_signed_response_alg: 'ES256',
      // OIDC Registration §2: every ID token says when the key was used.
      require_auth_time: true,
      ...(client.client_secret_file === undefined
        ? { token_endpoint_auth_method: 'none' }
        : {
            token_endpoint_auth_method: 'client_secret_basic',
            client_secret: await readSecret(client.client_id, client.client_secret_file),
          }),
    })),
  );
  return {
    metadata: [cli, ...configured],
    gatewayClients: new Set([
      CLI_CLIENT_ID,
      ...config.clients.filter((c) => c.gateway_tokens).map((c) => c.client_id),
    ]),
    deviceClients: new Set([
      ...(config.cli_device_flow ? [CLI_CLIENT_ID] : []),
      ...config.clients.filter((c) => c.device_flow).map((c) => c.client_id),
    ]),
  };
}

/**
 * What `pgkey token mint|list|revoke|exchange` share: where the token service is and which
 * token speaks for the person.
 *
 * - the token: `--token-file FILE`, else `$PGKEY_TOKEN`, else the profile's cached login
 *   (refreshed when nearly over: src/client/session-tokens.ts);
 * - the service: `--service URL`, else the profile's `token_service` (set by
 *   `pgkey login <url>`);
 * - trust: `--cacert FILE`, else the profile's gateway CA (the service usually presents the
 *   gateway's certificate), on top of the system's CAs.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { TokenServiceClient } from '../sts/service-client.ts';
import { PROFILE_OPTION } from './client-access.ts';
import type { CommandIo } from './command.ts';

export const SERVICE_OPTIONS = {
  ...PROFILE_OPTION,
  service: { type: 'string' },
  'token-file': { type: 'string' },
  cacert: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The person's token must stay good at least this long for one request. */
const REQUEST_MIN_VALIDITY_MS = 30_000;

export interface ServiceAccess {
  readonly client: TokenServiceClient;
  readonly token: string;
}

interface ServiceValues {
  readonly profile?: string | undefined;
  readonly service?: string | undefined;
  readonly 'token-file'?: string | undefined;
  readonly cacert?: string | undefined;
}

async function readText(io: CommandIo, file: string, what: string): Promise<string> {
  try {
    return await readFile(resolve(io.cwd, file), 'utf8');
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `cannot read ${what} ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      cause,
    });
  }
}

export async function serviceAccess(io: CommandIo, values: ServiceValues): Promise<ServiceAccess> {
  const [{ loadProfile }, { freshAccessToken }, { TokenServiceClient }] = await Promise.all([
    import('../client/profiles.ts'),
    import('../client/session-tokens.ts'),
    import('../sts/service-client.ts'),
  ]);
  let given: string | undefined;
  if (values['token-file'] !== undefined) {
    given = (await readText(io, values['token-file'], 'the token file')).trim();
  } else if (io.env.PGKEY_TOKEN) {
    given = io.env.PGKEY_TOKEN.trim();
  }
  const needsProfile =
    given === undefined || values.service === undefined || values.cacert === undefined;
  const profile = needsProfile
    ? await loadProfile(io.env, values.profile).catch((error: unknown) => {
        // With a token and a service URL in hand, a profile is only a source of trust.
        if (given !== undefined && values.service !== undefined) return undefined;
        throw error;
      })
    : undefined;
  const url = values.service ?? profile?.token_service;
  if (url === undefined) {
    throw new PgkeyError('ERR_USAGE', {
      message: `profile "${profile?.name ?? ''}" names no token service`,
      hint: 'pass --service URL, or set the profile up with pgkey login <token service URL>',
    });
  }
  const caFile = values.cacert ?? profile?.gateway_ca_file;
  const ca = caFile === undefined ? undefined : await readText(io, caFile, 'the CA file');
  const token =
    given ??
    (profile === undefined
      ? undefined
      : (await freshAccessToken(profile, { minValidityMs: REQUEST_MIN_VALIDITY_MS })).token);
  if (token === undefined || token === '') {
    throw new PgkeyError('ERR_USAGE', { message: 'no token: pgkey login, or pass --token-file' });
  }
  return { client: new TokenServiceClient({ url, ca }), token };
}

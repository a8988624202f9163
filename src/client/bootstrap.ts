/**
 * `pgkey login https://login.example.com`: one URL sets a profile up. pgkey's token service
 * publishes `/.well-known/pgkey-configuration`:
 *
 *   { "issuer": "https://login.example.com", "client_id": "pgkey-cli",
 *     "gateway": { "host": "db.example.com", "port": 6432 },
 *     "gateway_ca_pem": "-----BEGIN CERTIFICATE-----…",   (when the gateway's CA is private)
 *     "token_service": "https://login.example.com" }
 *
 * The document decides which CA the client will trust for the gateway, so it is fetched only
 * over verified https: the system CAs, plus `--ca FILE` for a service whose certificate comes
 * from a private CA (the one the person was given out of band). Plain http only from this
 * machine, for tests and the demo. The transport is the token service client (src/sts).
 * Without a pgkey token service (Okta, Entra ID, Keycloak), `pgkey login --issuer … --gateway …`
 * writes the same profile by hand.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isPgkeyError, PgkeyError } from '../errors/pgkey-error.ts';
import { isSafeUrl } from '../identity/issuer-keys.ts';
import { writePrivateFile } from './private-files.ts';
import { saveProfile, type Profile } from './profiles.ts';

export const BOOTSTRAP_PATH = '/.well-known/pgkey-configuration';

const TIMEOUT_MS = 15_000;

const safeUrl = z.string().refine(isSafeUrl, { message: 'must be an https:// URL' });

const documentSchema = z.object({
  issuer: safeUrl,
  client_id: z.string().min(1),
  gateway: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
  gateway_ca_pem: z.string().min(1).optional(),
  token_service: safeUrl,
});

export type BootstrapDocument = z.output<typeof documentSchema>;

/**
 * `https://login.example.com` → its bootstrap document, checked. `ca` (PEM) is trusted
 * besides the system CAs, for a token service whose certificate comes from a private CA.
 */
export async function fetchBootstrap(
  base: string,
  options: { ca?: string | undefined } = {},
): Promise<BootstrapDocument> {
  const { TokenServiceClient } = await import('../sts/service-client.ts');
  const service = new TokenServiceClient({ url: base, ca: options.ca, timeoutMs: TIMEOUT_MS });
  const url = `${service.url}${BOOTSTRAP_PATH}`;
  let value: unknown;
  try {
    value = await service.bootstrap();
  } catch (error) {
    if (!isPgkeyError(error) || error.code === 'ERR_PROVIDER_UNAVAILABLE') throw error;
    throw new PgkeyError('ERR_LOGIN_FAILED', {
      message: `${url}: ${error.message}`,
      hint: 'is this the address of a pgkey login service? For another provider use pgkey login --issuer URL --gateway HOST:PORT',
      reason: 'bootstrap_failed',
      cause: error,
    });
  }
  const parsed = documentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PgkeyError('ERR_LOGIN_FAILED', {
      message: `${url}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      reason: 'bootstrap_invalid',
    });
  }
  if (parsed.data.gateway_ca_pem !== undefined) checkPem(parsed.data.gateway_ca_pem, url);
  return parsed.data;
}

/**
 * Fetches the document and writes profile `name` (and its CA file) from it. `caFile` is
 * trusted for the fetch, and is the gateway's CA when the document names none.
 */
export async function bootstrapProfile(
  home: string,
  name: string,
  base: string,
  caFile?: string,
): Promise<Profile> {
  const extraCa = caFile === undefined ? undefined : await readCa(caFile);
  const document = await fetchBootstrap(base, { ca: extraCa });
  let gatewayCa = caFile;
  if (document.gateway_ca_pem !== undefined) {
    gatewayCa = `${name}-gateway-ca.pem`;
    const pem = document.gateway_ca_pem.trim();
    await writePrivateFile(join(home, gatewayCa), `${pem}\n`);
  }
  return saveProfile(home, name, {
    issuer: document.issuer,
    client_id: document.client_id,
    gateway: { host: document.gateway.host, port: document.gateway.port },
    token_service: document.token_service,
    gateway_ca_file: gatewayCa,
  });
}

async function readCa(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', { message: `cannot read the CA file ${file}`, cause });
  }
}

/** At least one certificate, and nothing that is not one. */
function checkPem(pem: string, url: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error('no certificate');
    for (const block of blocks) new X509Certificate(block);
  } catch (cause) {
    throw new PgkeyError('ERR_LOGIN_FAILED', {
      message: `${url}: gateway_ca_pem is not a PEM certificate`,
      reason: 'bootstrap_invalid',
      cause,
    });
  }
}

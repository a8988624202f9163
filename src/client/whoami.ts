/**
 * The gateway's view of the person: `GET <token_service>/v1/whoami` with the access token as
 * a Bearer token answers who the token says they are and what the gateway's policy would
 * give them — `{ identity, grants: [{ database, role, rule }] }`. `pgkey status` shows it;
 * `pgkey psql`/`env`/`connstr` pick the role from it when there is exactly one choice.
 *
 * Only profiles set up from a pgkey token service have one; with Okta, Entra ID or Keycloak
 * alone there is none, and the person names `--role` (or `role:` in the profile). The HTTP
 * client is the token service's own (src/sts/service-client.ts); this module checks the shape.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Profile } from './profiles.ts';

export interface Grant {
  /** A database name, or `*` for any. */
  readonly database: string;
  readonly role: string;
  /** The policy rule that grants it. */
  readonly rule: string;
}

export interface GatewayView {
  readonly identity: Readonly<Record<string, unknown>>;
  readonly grants: readonly Grant[];
}

const TIMEOUT_MS = 10_000;

const viewSchema = z.object({
  identity: z.record(z.string(), z.unknown()).default({}),
  grants: z
    .array(
      z.object({
        database: z.string().min(1),
        role: z.string().min(1),
        rule: z.string().default(''),
      }),
    )
    .default([]),
});

export async function fetchWhoami(
  profile: Pick<Profile, 'name' | 'token_service' | 'gateway_ca_file'>,
  token: string,
): Promise<GatewayView> {
  if (profile.token_service === undefined) {
    throw new PgkeyError('ERR_NOT_FOUND', {
      message: `profile "${profile.name}" has no token service to ask what the gateway's policy gives you`,
      reason: 'no_token_service',
    });
  }
  // The service often shares the gateway's certificate: trust the profile's gateway CA too.
  const ca =
    profile.gateway_ca_file === undefined
      ? undefined
      : await readFile(profile.gateway_ca_file, 'utf8').catch(() => undefined);
  const { TokenServiceClient } = await import('../sts/service-client.ts');
  const service = new TokenServiceClient({
    url: profile.token_service,
    ca,
    timeoutMs: TIMEOUT_MS,
  });
  const parsed = viewSchema.safeParse(await service.whoami(token));
  if (!parsed.success) {
    throw new PgkeyError('ERR_PROVIDER_UNAVAILABLE', {
      message: `the token service at ${service.url} answered whoami with something else`,
      reason: 'whoami_invalid',
    });
  }
  return parsed.data;
}

/** The grants that apply to `database` (a `*` grant applies to every database). */
export function grantsFor(grants: readonly Grant[], database: string): Grant[] {
  return grants.filter((g) => g.database === database || g.database === '*');
}

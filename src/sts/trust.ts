/**
 * How the gateway in the same process trusts the token service: an internal issuer named
 * `pgkey-sts` (no `issuers` entry needed, and none allowed: config/sts-rules.ts), verified
 * like any issuer — ES256 only, `typ: at+jwt` (the `builtin` profile's rule, RFC 9068 §2.1),
 * its `iss` and `aud` — with keys handed over in memory and its own claims mapping
 * (sts-identity.ts). Rebuilt from each config the gateway loads.
 */
import { configSchema, type Config, type IssuerConfig } from '../config/schema.ts';
import { TOKEN_SERVICE_ISSUER_NAME } from '../config/sts-rules.ts';
import type { InternalIssuer } from '../identity/token-verifier.ts';
import type { ServiceKeys } from './service-keys.ts';
import { defaultAudience } from './settings.ts';
import { stsIdentity } from './sts-identity.ts';

/**
 * `issuer` is the running service's: a new `token_service.issuer` takes a restart, and until
 * then the gateway keeps trusting the URL the service signs with.
 */
export function tokenServiceIssuer(config: Config, issuer: string): IssuerConfig | undefined {
  const sts = config.token_service;
  if (sts === undefined) return undefined;
  return configSchema.shape.issuers.element.parse({
    name: TOKEN_SERVICE_ISSUER_NAME,
    issuer,
    audience: sts.audience ?? defaultAudience(config),
    profile: 'builtin',
    algorithms: ['ES256'],
    typ: 'at+jwt',
  });
}

/** For GatewayOptions.internalIssuers. */
export function tokenServiceTrust(
  keys: ServiceKeys,
  issuer: string,
): (config: Config) => InternalIssuer[] {
  return (config) => {
    const service = tokenServiceIssuer(config, issuer);
    if (service === undefined) return [];
    return [
      {
        config: service,
        keys: keys.keySource,
        toIdentity: (claims) => stsIdentity(service, config.issuers, claims),
      },
    ];
  };
}

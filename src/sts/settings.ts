/**
 * `token_service:` resolved once per (re)load into what the service runs on: its issuer and
 * mount path, the audience of its tokens, who administers minted tokens, lifetimes, and the
 * files it serves (TLS, the gateway CA for the `pgkey login` bootstrap).
 */
import { readFile } from 'node:fs/promises';
import type { Config, TokenServiceConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';

export interface TokenServiceSettings {
  readonly issuer: string;
  /** The issuer URL's path ('' at the root): every route lives below it. */
  readonly mountPath: string;
  readonly address: string;
  /** The issuer is https://: the listener serves TLS. */
  readonly https: boolean;
  readonly audience: string;
  readonly adminGroup: string | undefined;
  /** Where people log in, for the bootstrap: `idp.issuer`, else the first human issuer. */
  readonly loginIssuer: string | undefined;
  /** Where clients reach the gateway; `port` undefined means the gateway's bound port. */
  readonly gateway: { readonly host: string; readonly port: number | undefined };
  readonly gatewayCaPem: string | undefined;
  readonly mint: {
    readonly freshAuthMs: number;
    readonly maxTtlMs: number;
    readonly defaultTtlMs: number;
  };
  readonly exchange: {
    readonly freshAuthMs: number | undefined;
    readonly maxTtlMs: number;
    readonly defaultTtlMs: number;
  };
}

function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return {
    host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(at + 1)),
  };
}

/** `issuers[0].audience`, or its first entry: what the gateway's own issuers expect. */
export function defaultAudience(config: Config): string {
  const first = config.issuers[0]?.audience;
  const audience = typeof first === 'string' ? first : first?.[0];
  return audience ?? 'pgkey';
}

export function tokenServiceSettings(
  config: Config,
  sts: TokenServiceConfig,
  gatewayCaPem: string | undefined,
): TokenServiceSettings {
  const url = new URL(sts.issuer);
  const gateway =
    sts.gateway_address === undefined
      ? { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: undefined }
      : splitHostPort(sts.gateway_address);
  return {
    issuer: sts.issuer,
    mountPath: url.pathname.replace(/\/+$/, ''),
    address: sts.address,
    https: url.protocol === 'https:',
    audience: sts.audience ?? defaultAudience(config),
    adminGroup: sts.admin_group ?? config.idp?.admin_group,
    loginIssuer: config.idp?.issuer ?? config.issuers.find((i) => i.profile !== 'workload')?.issuer,
    gateway,
    gatewayCaPem,
    mint: {
      freshAuthMs: sts.mint.fresh_auth,
      maxTtlMs: sts.mint.max_ttl,
      defaultTtlMs: sts.mint.default_ttl,
    },
    exchange: {
      freshAuthMs: sts.exchange.fresh_auth,
      maxTtlMs: sts.exchange.max_ttl,
      defaultTtlMs: sts.exchange.default_ttl,
    },
  };
}

/** Reads the settings' files; a file the config names that cannot be read is ERR_CONFIG. */
export async function loadTokenServiceSettings(
  config: Config,
  sts: TokenServiceConfig,
): Promise<TokenServiceSettings> {
  const pem =
    sts.publish_gateway_ca === undefined
      ? undefined
      : await readConfigFile(sts.publish_gateway_ca, 'token_service.publish_gateway_ca');
  return tokenServiceSettings(config, sts, pem);
}

export async function readConfigFile(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${key}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      reason: 'file_unreadable',
      cause,
    });
  }
}

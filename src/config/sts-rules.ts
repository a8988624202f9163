/**
 * Rules about the token service (`token_service:`, src/sts) and the policy conditions it
 * brings (`match.actor`): a public URL verifiers can rely on, a listener of its own, TLS that
 * fits the URL, lifetimes that fit their maximum, and agent rules that can match someone.
 */
import { isLoopbackHost } from '../runtime/loopback.ts';
import type { ConfigPath, ConfigRule, RuleReport } from './rules.ts';
import type { Config, TokenServiceConfig } from './schema.ts';

/** The issuer name the gateway knows the token service by (policy `match.issuers`, audit). */
export const TOKEN_SERVICE_ISSUER_NAME = 'pgkey-sts';

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function checkIssuer(config: Config, sts: TokenServiceConfig, report: RuleReport): void {
  const at = ['token_service', 'issuer'];
  const url = URL.parse(sts.issuer);
  if (url === null) return; // the schema reported it
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    report.error(at, 'must use https:// (http:// only for loopback hosts)');
  } else if (url.protocol === 'http:') {
    report.warn(at, 'plain http: tokens cross in the clear; only for local use');
  }
  if (url.username !== '' || url.password !== '') {
    report.error(at, 'must not contain a user name or password');
  }
  // RFC 8414 §2: an issuer identifier has no query or fragment; `iss` is compared byte for byte.
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(sts.issuer)) {
    report.error(at, 'an issuer URL has no query (?) or fragment (#)');
  }
  if (sts.issuer.endsWith('/')) {
    report.error(at, 'no trailing slash: verifiers compare `iss` byte for byte');
  }
  if (url.protocol === 'https:' && sts.tls === undefined && config.listen.tls === undefined) {
    report.error(['token_service', 'tls'], 'required for an https:// issuer (or set listen.tls)');
  }
  if (url.protocol === 'http:' && sts.tls !== undefined) {
    report.error(at, 'use https:// when token_service.tls is set');
  }
  config.issuers.forEach((issuer, i) => {
    if (issuer.issuer === sts.issuer) {
      report.error(
        ['issuers', i, 'issuer'],
        'this is the token service: the gateway trusts it already; remove this entry',
      );
    }
    if (issuer.name === TOKEN_SERVICE_ISSUER_NAME) {
      report.error(
        ['issuers', i, 'name'],
        `"${TOKEN_SERVICE_ISSUER_NAME}" is the token service's name; choose another`,
      );
    }
  });
}

function checkAddress(config: Config, sts: TokenServiceConfig, report: RuleReport): void {
  const at = ['token_service', 'address'];
  const port = portOf(sts.address);
  if (port > 65535) report.error(at, `port ${port} is above 65535`);
  const others: [string, string | undefined][] = [
    ['listen.address', config.listen.address],
    ['listen.oauth.address', config.listen.oauth?.address],
    ['admin.address', config.admin.address],
    ['idp.address', config.idp?.address],
  ];
  for (const [name, address] of others) {
    if (port !== 0 && sts.address === address) report.error(at, `same address as ${name}`);
  }
  if (sts.gateway_address !== undefined && portOf(sts.gateway_address) > 65535) {
    report.error(['token_service', 'gateway_address'], 'port is above 65535');
  }
}

function checkLifetimes(sts: TokenServiceConfig, report: RuleReport): void {
  const positive: [ConfigPath, number | undefined][] = [
    [['token_service', 'mint', 'fresh_auth'], sts.mint.fresh_auth],
    [['token_service', 'mint', 'max_ttl'], sts.mint.max_ttl],
    [['token_service', 'mint', 'default_ttl'], sts.mint.default_ttl],
    [['token_service', 'exchange', 'fresh_auth'], sts.exchange.fresh_auth],
    [['token_service', 'exchange', 'max_ttl'], sts.exchange.max_ttl],
    [['token_service', 'exchange', 'default_ttl'], sts.exchange.default_ttl],
  ];
  for (const [path, ms] of positive) {
    if (ms !== undefined && ms < 1000) report.error(path, 'must be at least 1s');
  }
  for (const section of ['mint', 'exchange'] as const) {
    const { default_ttl: ttl, max_ttl: max } = sts[section];
    if (ttl > max) {
      report.error(['token_service', section, 'default_ttl'], `longer than ${section}.max_ttl`);
    }
  }
  if (sts.mint.max_ttl > 24 * 3_600_000) {
    report.warn(
      ['token_service', 'mint', 'max_ttl'],
      'more than 24h: a leaked service token stays good that long unless revoked',
    );
  }
}

export const STS_RULES: readonly ConfigRule[] = [
  {
    name: 'token-service',
    description:
      '`token_service.issuer` uses https:// unless the host is loopback, has no query, fragment, credentials or trailing slash, and is not also in `issuers`; an https:// issuer needs `token_service.tls` or `listen.tls`; its address is not another listener’s; lifetimes are at least 1s and `default_ttl` fits `max_ttl`; no issuer is named `pgkey-sts`.',
    check: (config, report) => {
      const sts = config.token_service;
      if (sts === undefined) {
        config.issuers.forEach((issuer, i) => {
          if (issuer.name === TOKEN_SERVICE_ISSUER_NAME) {
            report.error(
              ['issuers', i, 'name'],
              `"${TOKEN_SERVICE_ISSUER_NAME}" is reserved for the token service; choose another`,
            );
          }
        });
        return;
      }
      checkIssuer(config, sts, report);
      checkAddress(config, sts, report);
      checkLifetimes(sts, report);
    },
  },
  {
    name: 'agent-rules',
    description:
      'A rule with `match.actor` matches delegated identities only, so its `match.kind` is absent or `delegated`.',
    check: (config, report) => {
      config.policy.forEach((rule, i) => {
        const { actor, kind } = rule.match;
        if (actor !== undefined && kind !== undefined && kind !== 'delegated') {
          report.error(
            ['policy', i, 'match', 'kind'],
            `"${kind}" identities have no actor: with match.actor this rule could never match`,
          );
        }
      });
    },
  },
];

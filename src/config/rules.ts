/**
 * Cross-field rules: what the schema cannot say about one key alone. Each rule is named and
 * described (docs/configuration.md lists them) and reports problems at the exact key path
 * an operator has to edit, the way changesets' `validateConfigByRules` does. Issuer rules
 * live in issuer-rules.ts, policy rules in policy-rules.ts, the OAUTHBEARER listener's in
 * oauth-rules.ts, the token service's in sts-rules.ts, per-person roles' in
 * provision-rules.ts; the listener, upstream and duration rules are here.
 */
import { AUDIT_RULES } from './audit-rules.ts';
import { IDP_RULES } from './idp-rules.ts';
import { ISSUER_RULES } from './issuer-rules.ts';
import { OAUTH_RULES } from './oauth-rules.ts';
import { POLICY_RULES } from './policy-rules.ts';
import { PROVISION_RULES } from './provision-rules.ts';
import type { Config } from './schema.ts';
import { STS_RULES } from './sts-rules.ts';

export type ConfigPath = readonly (string | number)[];

export interface ConfigProblem {
  readonly path: ConfigPath;
  readonly message: string;
}

export interface RuleReport {
  error(path: ConfigPath, message: string): void;
  warn(path: ConfigPath, message: string): void;
}

export interface ConfigRule {
  readonly name: string;
  readonly description: string;
  readonly check: (config: Config, report: RuleReport) => void;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

const SERVER_RULES: readonly ConfigRule[] = [
  {
    name: 'upstream-auth',
    description: '`upstream.auth: cert` requires `upstream.ca`; `scram` requires `upstream.scram`.',
    check: ({ upstream }, report) => {
      if (upstream.auth === 'cert' && upstream.ca === undefined) {
        report.error(
          ['upstream', 'ca'],
          'required when upstream.auth is "cert" (create it with `pgkey upstream init`)',
        );
      }
      if (upstream.auth === 'scram' && upstream.scram === undefined) {
        report.error(['upstream', 'scram'], 'required when upstream.auth is "scram"');
      }
      if (upstream.auth === 'cert' && upstream.scram !== undefined)
        report.warn(['upstream', 'scram'], 'ignored: upstream.auth is "cert"');
      if (upstream.auth === 'scram' && upstream.ca !== undefined)
        report.warn(['upstream', 'ca'], 'ignored: upstream.auth is "scram"');
    },
  },
  {
    name: 'listeners',
    description:
      '`listen.require_tls: true` (the default) requires `listen.tls`; ports are at most 65535; the admin listener does not share the wire port.',
    check: ({ listen, admin }, report) => {
      if (listen.require_tls && listen.tls === undefined) {
        report.error(['listen', 'tls'], 'required while listen.require_tls is true (the default)');
      }
      if (!listen.require_tls)
        report.warn(['listen', 'require_tls'], 'false: tokens may cross the network in plaintext');
      for (const [section, address] of [
        ['listen', listen.address],
        ['admin', admin.address],
      ] as const) {
        if (portOf(address) > 65535)
          report.error([section, 'address'], `port ${portOf(address)} is above 65535`);
      }
      if (portOf(listen.address) !== 0 && listen.address === admin.address) {
        report.error(['admin', 'address'], 'same address as listen.address');
      }
    },
  },
  {
    name: 'positive-durations',
    description: 'Timeouts, lifetimes and `session.max_duration` are greater than zero.',
    check: (config, report) => {
      const positive: [ConfigPath, number | undefined][] = [
        [['listen', 'handshake_timeout'], config.listen.handshake_timeout],
        [['upstream', 'cert_ttl'], config.upstream.cert_ttl],
        [['upstream', 'connect_timeout'], config.upstream.connect_timeout],
        [['session', 'max_duration'], config.session.max_duration],
        ...config.issuers.flatMap((issuer, i): [ConfigPath, number | undefined][] => [
          [['issuers', i, 'jwks_timeout'], issuer.jwks_timeout],
          [['issuers', i, 'max_token_age'], issuer.max_token_age],
        ]),
        ...config.policy.flatMap((rule, i): [ConfigPath, number | undefined][] => [
          [['policy', i, 'fresh_auth'], rule.fresh_auth],
          [['policy', i, 'max_session'], rule.max_session],
          [['policy', i, 'idle_timeout'], rule.idle_timeout],
        ]),
      ];
      for (const [path, ms] of positive) {
        if (ms === 0) report.error(path, 'must be greater than 0');
      }
    },
  },
];

/** In the order docs/configuration.md lists them. */
export const CONFIG_RULES: readonly ConfigRule[] = [
  ...ISSUER_RULES,
  ...SERVER_RULES,
  ...OAUTH_RULES,
  ...POLICY_RULES,
  ...PROVISION_RULES,
  ...IDP_RULES,
  ...STS_RULES,
  ...AUDIT_RULES,
];

/** Runs every rule; problems come back in rule order (the loader sorts them by position). */
export function checkRules(config: Config): { errors: ConfigProblem[]; warnings: ConfigProblem[] } {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const report: RuleReport = {
    error: (path, message) => errors.push({ path, message }),
    warn: (path, message) => warnings.push({ path, message }),
  };
  for (const rule of CONFIG_RULES) rule.check(config, report);
  return { errors, warnings };
}

/**
 * Rules about issuers: one name and one URL each, keys from exactly one place, transport that
 * cannot be intercepted, and a FIDO2 evidence rule that fits the IdP (reference/fido-oidc.md §2).
 */
import { isLoopbackHost } from '../runtime/loopback.ts';
import type { ConfigPath, ConfigRule, RuleReport } from './rules.ts';

const FIVE_MINUTES = 300_000;

/** RFC 8252 §8.3 loopback is the only place plain http cannot be intercepted off-machine. */
function checkUrl(url: string, path: ConfigPath, report: RuleReport, isIssuer: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // the schema has already reported it
  }
  const loopback = isLoopbackHost(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
    report.error(
      path,
      `must use https:// (http:// only for loopback hosts), got "${parsed.protocol}//"`,
    );
  } else if (parsed.protocol === 'http:') {
    report.warn(path, 'plain http: keys travel unprotected; use only for local development');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    report.error(path, 'must not contain a user name or password');
  }
  // RFC 8414 §2 / OIDC Discovery §4.3: an issuer identifier has no query or fragment.
  if (isIssuer && (parsed.search !== '' || parsed.hash !== '')) {
    report.error(path, 'an issuer URL has no query (?) or fragment (#)');
  }
}

/** Calls back for every item whose key an earlier item already had. */
export function duplicates<T>(
  items: readonly T[],
  key: (item: T) => string,
  onDuplicate: (index: number, first: number, value: string) => void,
): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const value = key(item);
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else onDuplicate(index, first, value);
  });
}

export const ISSUER_RULES: readonly ConfigRule[] = [
  {
    name: 'unique-issuers',
    description: 'Issuer names and issuer URLs are unique.',
    check: (config, report) => {
      duplicates(
        config.issuers,
        (i) => i.name,
        (index, first, name) =>
          report.error(
            ['issuers', index, 'name'],
            `duplicate issuer name "${name}" (also issuers[${first}].name)`,
          ),
      );
      duplicates(
        config.issuers,
        (i) => i.issuer,
        (index, first) =>
          report.error(
            ['issuers', index, 'issuer'],
            `same issuer URL as issuers[${first}]; tokens could not be told apart`,
          ),
      );
    },
  },
  {
    name: 'issuer-urls',
    description:
      '`issuer` and `jwks_uri` use https:// unless the host is loopback; issuers carry no query, fragment or credentials.',
    check: (config, report) => {
      config.issuers.forEach((issuer, i) => {
        checkUrl(issuer.issuer, ['issuers', i, 'issuer'], report, true);
        if (issuer.jwks_uri !== undefined)
          checkUrl(issuer.jwks_uri, ['issuers', i, 'jwks_uri'], report, false);
      });
    },
  },
  {
    name: 'issuer-keys',
    description: '`jwks_file` and `jwks_uri` are mutually exclusive.',
    check: (config, report) => {
      config.issuers.forEach((issuer, i) => {
        if (issuer.jwks_file !== undefined && issuer.jwks_uri !== undefined) {
          report.error(
            ['issuers', i, 'jwks_uri'],
            'cannot be combined with jwks_file: pick static keys or a URL',
          );
        }
      });
    },
  },
  {
    name: 'fido2-evidence',
    description:
      'Profile `generic` requires `fido2`; `entra` requires `fido2.acrs`; `workload` must not set `fido2`; a `fido2` block sets at least one of `amr`, `acr`, `acrs`; `builtin` tokens are `at+jwt`.',
    check: (config, report) => {
      config.issuers.forEach((issuer, i) => {
        const at = ['issuers', i, 'fido2'];
        const { fido2, profile } = issuer;
        if (profile === 'workload') {
          if (fido2 !== undefined)
            report.error(
              at,
              'workload issuers cannot prove FIDO2; remove it and use match.claims in policy',
            );
        } else if (fido2 === undefined) {
          if (profile === 'generic') report.error(at, 'required for profile "generic"');
          if (profile === 'entra')
            report.error(
              at,
              'required for profile "entra" (set acrs to your authentication contexts, e.g. [c1])',
            );
        } else if (fido2.amr === undefined && fido2.acr === undefined && fido2.acrs === undefined) {
          report.error(at, 'set at least one of amr, acr, acrs');
        } else if (profile === 'entra' && fido2.acrs === undefined) {
          report.error(
            [...at, 'acrs'],
            'required for profile "entra": Entra ID proves FIDO2 only through authentication contexts',
          );
        }
        if (profile === 'builtin' && issuer.typ !== undefined && issuer.typ !== 'at+jwt') {
          report.error(
            ['issuers', i, 'typ'],
            'the builtin profile issues "at+jwt" tokens (RFC 9068)',
          );
        }
        if (issuer.clock_skew > FIVE_MINUTES) {
          report.warn(
            ['issuers', i, 'clock_skew'],
            'more than 5m keeps expired tokens usable for longer',
          );
        }
      });
    },
  },
];

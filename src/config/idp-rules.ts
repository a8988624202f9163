/**
 * Rules about the built-in OpenID provider (`idp:`): a public URL browsers and verifiers can
 * rely on, WebAuthn origins that fit the RP ID, clients whose redirect URIs cannot be bent
 * (reliability.md E27), and a gateway that trusts the provider it runs.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../runtime/loopback.ts';
import { duplicates } from './issuer-rules.ts';
import type { ConfigRule, RuleReport } from './rules.ts';
import type { Config, IdpConfig } from './schema.ts';

const TWELVE_HOURS = 12 * 3_600_000;

function parse(url: string): URL | undefined {
  return URL.parse(url) ?? undefined;
}

function checkIssuer(idp: IdpConfig, report: RuleReport): void {
  const at = ['idp', 'issuer'];
  const url = parse(idp.issuer);
  if (url === undefined) return; // the schema reported it
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    report.error(at, 'must use https:// (http:// only for loopback hosts)');
  } else if (url.protocol === 'http:') {
    report.warn(at, 'plain http: only for local use');
  }
  if (url.username !== '' || url.password !== '') {
    report.error(at, 'must not contain a user name or password');
  }
  // OpenID Connect Discovery 1.0 §3: no query or fragment; tokens carry it byte for byte.
  if (
    url.search !== '' ||
    url.hash !== '' ||
    idp.issuer.includes('?') ||
    idp.issuer.includes('#')
  ) {
    report.error(at, 'an issuer URL has no query (?) or fragment (#)');
  }
  if (idp.issuer.endsWith('/')) {
    report.error(at, 'no trailing slash: verifiers compare `iss` byte for byte');
  }
  if (url.protocol === 'https:' && idp.tls === undefined && !idp.trust_proxy) {
    report.error(
      ['idp', 'tls'],
      'required for an https:// issuer, unless TLS ends at a proxy (set idp.trust_proxy)',
    );
  }
  if (url.protocol === 'http:' && idp.tls !== undefined) {
    report.error(at, 'use https:// when idp.tls is set');
  }
}

function checkAddress(config: Config, address: string, report: RuleReport): void {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  if (port > 65535) report.error(['idp', 'address'], `port ${port} is above 65535`);
  if (port !== 0 && (address === config.listen.address || address === config.admin.address)) {
    report.error(['idp', 'address'], 'same address as another pgkey listener');
  }
}

function checkWebAuthn(idp: IdpConfig, report: RuleReport): void {
  const issuer = parse(idp.issuer);
  if (issuer === undefined) return;
  const rpId = idp.rp_id ?? issuer.hostname;
  const within = (host: string): boolean => host === rpId || host.endsWith(`.${rpId}`);
  if (isIP(rpId.replace(/^\[|\]$/g, '')) !== 0) {
    report.error(
      ['idp', idp.rp_id === undefined ? 'issuer' : 'rp_id'],
      'WebAuthn RP IDs are domain names, not IP addresses: use e.g. http://localhost',
    );
  }
  if (idp.rp_id !== undefined && !within(issuer.hostname)) {
    report.error(
      ['idp', 'rp_id'],
      `the issuer host ${issuer.hostname} is not ${rpId} or below it (WebAuthn L3 §5.1.4.1)`,
    );
  }
  const origins = idp.origins ?? [issuer.origin];
  idp.origins?.forEach((origin, i) => {
    const url = parse(origin);
    if (url === undefined) return;
    if (url.origin !== origin) {
      report.error(['idp', 'origins', i], 'must be exactly scheme://host[:port], no path');
    } else if (!within(url.hostname)) {
      report.error(['idp', 'origins', i], `${url.hostname} is not within the RP ID ${rpId}`);
    }
  });
  if (!origins.includes(issuer.origin)) {
    report.error(['idp', 'origins'], `must include the issuer origin ${issuer.origin}`);
  }
  const { authenticators } = idp;
  if (authenticators.require_attested && authenticators.attestation !== 'direct') {
    report.error(
      ['idp', 'authenticators', 'attestation'],
      'must be "direct" while require_attested is true',
    );
  }
  if (authenticators.aaguids !== undefined && !authenticators.require_attested) {
    report.error(
      ['idp', 'authenticators', 'aaguids'],
      'needs require_attested: an AAGUID without a verified attestation is self-asserted',
    );
  }
}

function checkClients(idp: IdpConfig, report: RuleReport): void {
  duplicates(
    idp.clients,
    (c) => c.client_id,
    (index, first, id) =>
      report.error(
        ['idp', 'clients', index, 'client_id'],
        `duplicate client_id "${id}" (also idp.clients[${first}])`,
      ),
  );
  idp.clients.forEach((client, i) => {
    for (const key of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
      client[key].forEach((uri, j) => {
        const url = parse(uri);
        if (url === undefined) return;
        const at = ['idp', 'clients', i, key, j];
        if (
          url.protocol !== 'https:' &&
          !(url.protocol === 'http:' && isLoopbackHost(url.hostname))
        )
          report.error(at, 'must use https:// (http:// only for loopback hosts)');
        if (url.username !== '' || url.password !== '')
          report.error(at, 'must not contain a user name or password');
        if (uri.includes('#')) report.error(at, 'must not contain a fragment (RFC 6749 §3.1.2)');
      });
    }
  });
}

function checkGatewayTrust(config: Config, idp: IdpConfig, report: RuleReport): void {
  const index = config.issuers.findIndex((issuer) => issuer.issuer === idp.issuer);
  const entry = config.issuers[index];
  if (entry === undefined) {
    report.warn(
      ['idp', 'issuer'],
      'no issuers[] entry has this issuer: the gateway will not accept tokens from its own provider',
    );
    return;
  }
  if (entry.profile !== 'builtin') {
    report.error(['issuers', index, 'profile'], 'must be "builtin" for the built-in provider');
  }
  const audiences = typeof entry.audience === 'string' ? [entry.audience] : entry.audience;
  if (!audiences.includes(idp.audience)) {
    report.error(
      ['issuers', index, 'audience'],
      `must include "${idp.audience}" (idp.audience), the audience of the provider's tokens`,
    );
  }
}

export const IDP_RULES: readonly ConfigRule[] = [
  {
    name: 'idp-issuer',
    description:
      '`idp.issuer` uses https:// unless the host is loopback, has no query, fragment, credentials or trailing slash, and an https issuer needs `idp.tls` or `idp.trust_proxy`; `idp.address` shares no port with the other listeners.',
    check: (config, report) => {
      if (config.idp === undefined) return;
      checkIssuer(config.idp, report);
      checkAddress(config, config.idp.address, report);
    },
  },
  {
    name: 'idp-webauthn',
    description:
      '`idp.rp_id` covers the issuer host; `idp.origins` are bare origins within the RP ID and include the issuer origin; `authenticators.aaguids` needs `require_attested`, which needs `attestation: direct`.',
    check: (config, report) => {
      if (config.idp !== undefined) checkWebAuthn(config.idp, report);
    },
  },
  {
    name: 'idp-clients',
    description:
      '`idp.clients` have unique ids and redirect URIs that are https:// (http:// only on loopback), without credentials or fragments.',
    check: (config, report) => {
      if (config.idp !== undefined) checkClients(config.idp, report);
    },
  },
  {
    name: 'idp-lifetimes',
    description:
      '`idp.access_token_ttl` and `idp.session_max` are greater than zero and the access token fits in the session; a `session_max` above 12h is flagged (NIST SP 800-63B-4 AAL3).',
    check: ({ idp }, report) => {
      if (idp === undefined) return;
      if (idp.access_token_ttl === 0)
        report.error(['idp', 'access_token_ttl'], 'must be greater than 0');
      if (idp.session_max === 0) report.error(['idp', 'session_max'], 'must be greater than 0');
      else if (idp.session_max < idp.access_token_ttl)
        report.error(['idp', 'session_max'], 'must be at least idp.access_token_ttl');
      if (idp.session_max > TWELVE_HOURS)
        report.warn(['idp', 'session_max'], 'above 12h: AAL3 asks for a new login every 12 hours');
    },
  },
  {
    name: 'idp-gateway-trust',
    description:
      'When `idp` is set, the `issuers` entry with the same URL uses profile `builtin` and accepts `idp.audience`.',
    check: (config, report) => {
      if (config.idp !== undefined) checkGatewayTrust(config, config.idp, report);
    },
  },
];

/**
 * Rules about the OAUTHBEARER listener (`listen.oauth`, docs/decisions/0007): its own
 * address, and an issuer the gateway already trusts, so the token a libpq 18 client fetches
 * from it is checked by the same verifier as every other token.
 */
import type { ConfigRule } from './rules.ts';

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

export const OAUTH_RULES: readonly ConfigRule[] = [
  {
    name: 'oauth-listener',
    description:
      '`listen.oauth.address` has a port of at most 65535 and is not the address of another pgkey listener (`listen.address`, `admin.address`, `idp.address`).',
    check: ({ listen, admin, idp }, report) => {
      const oauth = listen.oauth;
      if (oauth === undefined) return;
      const at = ['listen', 'oauth', 'address'];
      const port = portOf(oauth.address);
      if (port > 65535) report.error(at, `port ${port} is above 65535`);
      const others: [string, string | undefined][] = [
        ['listen.address', listen.address],
        ['admin.address', admin.address],
        ['idp.address', idp?.address],
      ];
      for (const [name, address] of others) {
        if (port !== 0 && oauth.address === address) {
          report.error(
            at,
            `same address as ${name}: the OAUTHBEARER door needs a listener of its own`,
          );
        }
      }
    },
  },
  {
    name: 'oauth-issuer',
    description:
      '`listen.oauth.issuer` is one of `issuers[].issuer`, byte for byte; warnings when libpq 18 cannot use it as given (plain http, a workload issuer, the built-in provider without the device grant for `pgkey-cli`).',
    check: ({ listen, issuers, idp }, report) => {
      const oauth = listen.oauth;
      if (oauth === undefined) return;
      const at = ['listen', 'oauth', 'issuer'];
      const trusted = issuers.find((issuer) => issuer.issuer === oauth.issuer);
      if (trusted === undefined) {
        report.error(
          at,
          `"${oauth.issuer}" is not one of issuers[].issuer: tokens from it would be refused`,
        );
        return;
      }
      // fe-auth-oauth.c issuer_from_well_known_uri: https only, unless PGOAUTHDEBUG=UNSAFE.
      if (oauth.issuer.startsWith('http://')) {
        report.warn(at, 'plain http: libpq 18 refuses it unless PGOAUTHDEBUG=UNSAFE is set');
      }
      if (trusted.profile === 'workload') {
        report.warn(at, `issuer "${trusted.name}" is a workload issuer: no person logs in there`);
      }
      // libpq 18's built-in flow is the RFC 8628 device grant (libpq-oauth).
      if (idp !== undefined && idp.issuer === oauth.issuer && !idp.cli_device_flow) {
        report.warn(
          ['idp', 'cli_device_flow'],
          'false: libpq 18 with oauth_client_id=pgkey-cli runs the device grant, which the built-in provider then refuses',
        );
      }
    },
  },
];

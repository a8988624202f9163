/**
 * The oidc-provider configuration (its lib/helpers/defaults.js names), and why each value:
 *
 * - `devInteractions` off: on by default, it signs anyone in with any password (fido-oidc.md
 *   §4.2). Our interactions live under /interaction/:uid, the path the cookie is scoped to.
 * - PKCE (RFC 7636) for every client; v9 knows only S256, so `plain` and an omitted method
 *   are refused (RFC 9700 §2.1.1).
 * - Access tokens: `resourceIndicators` (RFC 8707) with the gateway as default resource for
 *   clients allowed gateway tokens, so they are RFC 9068 `at+jwt`, ES256, with the signer's
 *   kid. Other clients get opaque tokens for userinfo only.
 * - Refresh tokens rotate on every use (RFC 9700 §4.14.2); reuse revokes the grant.
 * - Device grant (RFC 8628) only when some client opts in; otherwise its endpoint is absent.
 * - Every default page is replaced (pages.ts): the stock ones load web fonts from Google.
 * - userinfo lives at /userinfo, not oidc-provider's default /me: /me is the account page
 *   "My keys" (src/idp/pages). Clients find it in discovery (`userinfo_endpoint`).
 */
import { errors, interactionPolicy } from 'oidc-provider';
import type { AdapterConstructor, Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from './accounts.ts';
import type { ClientSetup } from './clients.ts';
import { deviceCodePage, deviceConfirmPage, errorPage, logoutPage, messagePage } from './pages.ts';
import { GATEWAY_RESOURCE, INTERACTION_TTL_SECONDS, type IdpSettings } from './settings.ts';
import type { ProviderKeys } from './signing-keys.ts';
import type { TokenPolicy } from './token-claims.ts';

/** OpenID Connect Core §5.4 scopes, plus `groups` for the gateway's policy. */
export const OIDC_SCOPES = new Set(['openid', 'offline_access', 'email', 'profile', 'groups']);

export interface ConfigurationInput {
  readonly settings: IdpSettings;
  readonly keys: ProviderKeys;
  readonly clients: ClientSetup;
  readonly adapter: AdapterConstructor;
  readonly accounts: Accounts;
  readonly tokens: TokenPolicy;
}

function html(ctx: KoaContextWithOIDC, body: string): void {
  ctx.type = 'html';
  ctx.body = body;
}

export function providerConfiguration(input: ConfigurationInput): Configuration {
  const { settings, keys, clients, accounts, tokens } = input;
  const { mountPath } = settings;
  const gatewayClient = (client: Client | undefined) =>
    client !== undefined && clients.gatewayClients.has(client.clientId);

  const policy = interactionPolicy.base();
  policy.get('login')?.checks.add(accounts.sessionCheck);

  return {
    adapter: input.adapter,
    // A copy per provider instance: oidc-provider normalizes what it is given.
    clients: structuredClone(clients.metadata),
    jwks: keys.jwks,
    findAccount: accounts.findAccount,
    acrValues: ['phrh', 'phr'],
    scopes: [...OIDC_SCOPES],
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      // ID tokens always say how and when the person signed in (OIDC Core §2).
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // OAuth 2.1 / RFC 9700 §4.1.3: always name the redirect URI, compared exactly.
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: { required: () => true },
    cookies: {
      keys: [...keys.cookieKeys],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    routes: { userinfo: '/userinfo' },
    interactions: {
      policy,
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${mountPath}/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      // A DPoP-bound token (RFC 9449 `cnf.jkt`) would reach the gateway as a bearer token over
      // the PostgreSQL wire, where no proof can be checked: issue no binding we cannot keep.
      dPoP: { enabled: false },
      deviceFlow: {
        enabled: clients.deviceClients.size > 0,
        userCodeInputSource: (
          ctx: KoaContextWithOIDC,
          form: string,
          _out: unknown,
          err?: unknown,
        ) =>
          html(
            ctx,
            deviceCodePage(
              mountPath,
              form.replace(/\sonfocus="[^"]*"/, ''),
              err === undefined ? undefined : 'That code did not work. Check it and try again.',
            ),
          ),
        userCodeConfirmSource: (
          ctx: KoaContextWithOIDC,
          form: string,
          client: Client,
          deviceInfo: { ip?: string; ua?: string } | undefined,
          userCode: string,
        ) =>
          html(
            ctx,
            deviceConfirmPage(mountPath, {
              form,
              clientName: client.clientName ?? client.clientId,
              userCode,
              ip: deviceInfo?.ip,
              userAgent: deviceInfo?.ua,
            }),
          ),
        successSource: (ctx: KoaContextWithOIDC) =>
          html(
            ctx,
            messagePage(
              mountPath,
              'Device connected',
              'You can close this page and return to your device.',
            ),
          ),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, client: Client, oneOf?: string[]) => {
          if (oneOf !== undefined) return oneOf.length === 1 ? oneOf[0] : oneOf;
          return gatewayClient(client) ? GATEWAY_RESOURCE : undefined;
        },
        // Tokens for a granted resource stay for that resource, also when `openid` was asked.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: Client) => {
          if (resource !== GATEWAY_RESOURCE || !gatewayClient(client)) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: '',
            audience: settings.audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: settings.accessTokenTtlSeconds,
            jwt: { sign: { alg: 'ES256', kid: keys.signingKid } },
          };
        },
      },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) =>
          html(ctx, logoutPage(mountPath, form, new URL(settings.issuer).host)),
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) =>
          html(ctx, messagePage(mountPath, 'Signed out', 'You are signed out.')),
      },
      userinfo: { enabled: true },
    },
    extraTokenClaims: tokens.extraTokenClaims,
    issueRefreshToken: tokens.issueRefreshToken,
    expiresWithSession: () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: (ctx: KoaContextWithOIDC | undefined) => tokens.accessTokenTtl(ctx),
      AuthorizationCode: 60,
      ClientCredentials: 60,
      DeviceCode: INTERACTION_TTL_SECONDS,
      BackchannelAuthenticationRequest: 60,
      PreAuthorizedCode: 60,
      Grant: settings.sessionMaxSeconds,
      IdToken: settings.accessTokenTtlSeconds,
      Interaction: INTERACTION_TTL_SECONDS,
      RefreshToken: (_ctx: unknown, token: { authTime?: number }) => tokens.refreshTokenTtl(token),
      Session: (_ctx: unknown, session: { loginTs?: number }) => tokens.sessionTtl(session),
    },
    clientBasedCORS: () => false,
    renderError: (ctx: KoaContextWithOIDC, out: Record<string, unknown>) =>
      html(ctx, errorPage(mountPath, out)),
  };
}

/** RFC 7009 §2.1: a client revokes only its own tokens. */
function revocationAllowed(
  _ctx: unknown,
  client: { clientId: string },
  token: { clientId?: string },
): boolean {
  return token.clientId === client.clientId;
}

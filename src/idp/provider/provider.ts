/**
 * One oidc-provider instance: configuration, logging and the one response it gets wrong for
 * us. The instance is disposable — identity-provider.ts builds a new one whenever the signing
 * keys change, since oidc-provider reads `jwks` only in its constructor. All state lives in
 * the directory (adapter.ts), so a request finishing on the previous instance and the next
 * one starting on the new instance see the same sessions, grants and codes.
 */
import { Provider } from 'oidc-provider';
import type { KoaContextWithOIDC, Middleware } from 'oidc-provider';
import type { Logger } from '../../runtime/logger.ts';
import { providerConfiguration, type ConfigurationInput } from './configuration.ts';
import { DEVICE_CODE_GRANT } from './settings.ts';

export type { Provider } from 'oidc-provider';

export interface BuildProviderInput extends ConfigurationInput {
  readonly trustProxy: boolean;
  readonly logger: Logger;
}

/** Errors of the endpoints (oidc-provider docs/events.md): client mistakes, logged at debug. */
const CLIENT_ERROR_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'code_verification.error',
  'device_authorization.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'jwks.error',
  'pushed_authorization_request.error',
  'revocation.error',
  'userinfo.error',
] as const;

/**
 * RFC 8628 §3.2 / RFC 6749 §5.2: a client that is not allowed the device grant gets
 * `unauthorized_client`; oidc-provider answers `invalid_request`. Decided from our own client
 * list (never from the library's error text), and only while some client has the grant —
 * otherwise the grant does not exist here at all (`unsupported_grant_type`, endpoint 404).
 */
function deviceGrantGuard(deviceClients: ReadonlySet<string>): Middleware {
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    const clientId = oidc?.client?.clientId;
    if (oidc === undefined || clientId === undefined || ctx.status !== 400) return;
    const deviceRequest =
      oidc.route === 'device_authorization' ||
      (oidc.route === 'token' && oidc.params?.grant_type === DEVICE_CODE_GRANT);
    if (deviceRequest && deviceClients.size > 0 && !deviceClients.has(clientId)) {
      ctx.body = {
        error: 'unauthorized_client',
        error_description: 'the device authorization grant is not enabled for this client',
      };
    }
  };
}

export function buildProvider(input: BuildProviderInput): Provider {
  const { logger } = input;
  const provider = new Provider(input.settings.issuer, providerConfiguration(input));
  provider.proxy = input.trustProxy;
  provider.use(deviceGrantGuard(input.clients.deviceClients));
  // A listener of our own keeps Koa from printing unhandled errors to stderr.
  provider.on('error', (error: unknown) => logger.error({ err: error }, 'idp request failed'));
  provider.on('server_error', (_ctx: unknown, error: unknown) =>
    logger.error({ err: error }, 'idp server error'),
  );
  for (const event of CLIENT_ERROR_EVENTS) {
    provider.on(event, (ctx: unknown, error: unknown) => {
      const { error: code, error_description: description } = error as Record<string, unknown>;
      const route = (ctx as Partial<KoaContextWithOIDC>).oidc?.route;
      logger.debug({ event, route, error: code, description }, 'idp request refused');
    });
  }
  return provider;
}

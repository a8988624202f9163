/**
 * The login interaction (oidc-provider "User flows"): WebAuthn is the only way in.
 *
 *   GET  /interaction/:uid                  → the sign-in page
 *   POST /interaction/:uid/webauthn/options → assertion options (a challenge bound to uid)
 *   POST /interaction/:uid/webauthn/verify  → verify, record the login, grant, `{ redirectTo }`
 *
 * Every interaction runs a ceremony, also when only consent is missing: consent is implied
 * for the operator's own clients, but a native client's authorization request can come from
 * any local program (RFC 8252 §8.6), so a touch of the key is the user's approval. When a
 * browser session exists the ceremony is limited to that account's keys. `prompt=login` and
 * `max_age` reach this page through oidc-provider's login prompt and give a new `auth_time`.
 *
 * The http layer has already checked method, Origin and content type (CSRF); here the
 * interaction cookie must name the interaction in the URL, and the challenge must have been
 * issued for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from 'oidc-provider';
import type { Interaction, Provider } from 'oidc-provider';
import { isPgkeyError } from '../../errors/pgkey-error.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { WebAuthnCeremonies } from '../webauthn/ceremonies.ts';
import type { LoginRecords } from './logins.ts';
import { loginPage, messagePage } from './pages.ts';
import type { IdpSettings } from './settings.ts';

export type LoginCeremonies = Pick<
  WebAuthnCeremonies,
  'beginAuthentication' | 'finishAuthentication'
>;
type AssertionJSON = Parameters<LoginCeremonies['finishAuthentication']>[1];

export type HandlerResult =
  | { readonly type: 'html'; readonly status: number; readonly body: string }
  | { readonly type: 'json'; readonly status: number; readonly body: unknown };

export interface InteractionHandlers {
  page(req: IncomingMessage, res: ServerResponse, uid: string): Promise<HandlerResult>;
  options(req: IncomingMessage, res: ServerResponse, uid: string): Promise<HandlerResult>;
  verify(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    body: unknown,
  ): Promise<HandlerResult>;
}

export interface InteractionDeps {
  /** The current provider (it is rebuilt when signing keys change). */
  readonly provider: () => Provider;
  readonly ceremonies: LoginCeremonies;
  readonly logins: LoginRecords;
  readonly settings: IdpSettings;
  readonly clientNames: ReadonlyMap<string, string>;
  readonly oidcScopes: ReadonlySet<string>;
  readonly logger: Logger;
}

const json = (status: number, body: unknown): HandlerResult => ({ type: 'json', status, body });
const failure = (status: number, error: string, message: string): HandlerResult =>
  json(status, { error, message });

const EXPIRED =
  'This sign-in page has expired or belongs to another browser. Start again from the application.';

export function createInteractionHandlers(deps: InteractionDeps): InteractionHandlers {
  const { settings, logger } = deps;
  const base = `${settings.mountPath}/interaction`;

  async function details(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
  ): Promise<Interaction | undefined> {
    let interaction: Interaction;
    try {
      interaction = await deps.provider().interactionDetails(req, res);
    } catch (error) {
      if (error instanceof errors.SessionNotFound) return undefined;
      throw error;
    }
    // The cookie (path-scoped to this interaction) and the URL must agree.
    return interaction.uid === uid && ['login', 'consent'].includes(interaction.prompt.name)
      ? interaction
      : undefined;
  }

  /** First-party consent: the requested OpenID scopes, on the grant the request already has. */
  async function grantFor(interaction: Interaction, accountId: string): Promise<string> {
    const { Grant } = deps.provider();
    const clientId = String(interaction.params.client_id);
    let grant =
      interaction.grantId === undefined ? undefined : await Grant.find(interaction.grantId);
    if (grant?.accountId !== accountId || grant.clientId !== clientId) grant = undefined;
    grant ??= new Grant({ accountId, clientId });
    const scopes = String(interaction.params.scope ?? '')
      .split(' ')
      .filter((scope) => deps.oidcScopes.has(scope));
    if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
    return grant.save();
  }

  return {
    async page(req, res, uid) {
      const interaction = await details(req, res, uid);
      if (interaction === undefined) {
        return {
          type: 'html',
          status: 400,
          body: messagePage(settings.mountPath, 'Sign-in expired', EXPIRED),
        };
      }
      const clientId = String(interaction.params.client_id);
      return {
        type: 'html',
        status: 200,
        body: loginPage({
          mountPath: settings.mountPath,
          clientName: deps.clientNames.get(clientId) ?? clientId,
          optionsUrl: `${base}/${uid}/webauthn/options`,
          verifyUrl: `${base}/${uid}/webauthn/verify`,
          reauthenticate: interaction.session !== undefined,
        }),
      };
    },

    async options(req, res, uid) {
      const interaction = await details(req, res, uid);
      if (interaction === undefined) return failure(400, 'interaction_expired', EXPIRED);
      const userId = interaction.session?.accountId;
      const start = await deps.ceremonies.beginAuthentication(
        { uid },
        userId === undefined ? {} : { userId },
      );
      return json(200, start);
    },

    async verify(req, res, uid, body) {
      const interaction = await details(req, res, uid);
      if (interaction === undefined) return failure(400, 'interaction_expired', EXPIRED);
      const { challengeId, response } = (body ?? {}) as Record<string, unknown>;
      if (typeof challengeId !== 'string' || typeof response !== 'object' || response === null) {
        return failure(400, 'invalid_request', 'Expected { challengeId, response }.');
      }
      let key;
      try {
        key = await deps.ceremonies.finishAuthentication(challengeId, response as AssertionJSON);
      } catch (error) {
        if (!isPgkeyError(error) || error.httpStatus >= 500) throw error;
        logger.info({ uid, reason: error.reason }, 'idp login refused');
        return failure(error.httpStatus, error.reason, error.message);
      }
      // The challenge was issued for this interaction, not one on another page or tab.
      if (key.data.uid !== uid) {
        return failure(
          400,
          'challenge_mismatch',
          'This key response belongs to another sign-in page.',
        );
      }
      const sessionAccount = interaction.session?.accountId;
      if (key.user.disabled || (sessionAccount !== undefined && key.user.id !== sessionAccount)) {
        return failure(
          403,
          'account_mismatch',
          'Sign in with a key of the account already signed in here.',
        );
      }
      const login = await deps.logins.save({
        accountId: key.user.id,
        credentialId: key.credential.id,
        aaguid: key.credential.aaguid,
        deviceBound: key.deviceBound,
        attested: key.attested,
        userVerified: key.userVerified,
        acr: key.acr,
        amr: key.amr,
      });
      const grantId = await grantFor(interaction, key.user.id);
      const redirectTo = await deps.provider().interactionResult(
        req,
        res,
        {
          // OpenID Connect Core §2: auth_time is this ceremony; acr/amr per EAP ACR Values.
          login: {
            accountId: key.user.id,
            acr: key.acr,
            amr: [...key.amr],
            ts: login.authTime,
            remember: true,
          },
          consent: { grantId },
        },
        { mergeWithLastSubmission: false },
      );
      logger.info(
        {
          uid,
          user: key.user.id,
          credential: key.credential.id,
          acr: key.acr,
          client: interaction.params.client_id,
        },
        'idp login',
      );
      return json(200, { redirectTo });
    },
  };
}

/**
 * `pgkey login`: a FIDO2 login at the profile's OpenID provider, ending in the token cache.
 *
 * Default — authorization code + PKCE (S256) with a loopback redirect (RFC 8252 §7.3): the
 * WebAuthn ceremony runs in the person's real browser at the provider's origin, so the key's
 * origin binding holds, and the code reaches only the listener on 127.0.0.1, bound to this
 * process by PKCE and `state` (and the ID token by `nonce`). `acr_values` asks for a
 * phishing-resistant login; `--fresh` adds `max_age=0` + `prompt=login` and checks `auth_time`.
 *
 * `--device` — the device authorization grant (RFC 8628) for machines without a browser.
 * Opt-in, because a device code can be phished (the attacker starts the flow and sends the
 * victim a genuine provider link; §5.4, fido-oidc.md §6); pgkey's provider offers it to
 * `pgkey-cli` only with `idp.cli_device_flow: true`.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import { listenForCallback } from './loopback-server.ts';
import {
  authorizationUrl,
  discoverProvider,
  oauthErrorCode,
  pollDevice,
  providerError,
  redeemCode,
  requestSecrets,
  startDeviceAuthorization,
  type Provider,
} from './oidc.ts';
import { openBrowser } from './open-browser.ts';
import type { Profile } from './profiles.ts';
import { cacheEntry, writeTokenCache, type CachedTokens } from './token-cache.ts';

export interface LoginOptions {
  readonly profile: Profile;
  readonly device: boolean;
  /** Force a new touch of the key (max_age=0, prompt=login). */
  readonly fresh: boolean;
  /** Start the system browser (loopback only); the URL is printed either way. */
  readonly browser: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Progress for the person (stderr). Never given a token. */
  readonly say: (line: string) => void;
  /** How long to wait for the browser (loopback); default 5 minutes. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

export const LOGIN_TIMEOUT_MS = 5 * 60_000;

export async function login(options: LoginOptions): Promise<CachedTokens> {
  const { profile } = options;
  const now = options.now ?? Date.now;
  const provider = await discoverProvider(profile);
  const tokens = options.device
    ? await deviceLogin(provider, options)
    : await loopbackLogin(provider, options);
  const entry = cacheEntry(profile, tokens, options.device ? 'device' : 'loopback', now());
  await writeTokenCache(profile, entry);
  return entry;
}

function requestParams(profile: Profile, fresh: boolean): Record<string, string> {
  return {
    ...profile.authorization_params,
    scope: profile.scopes.join(' '),
    ...(profile.acr_values.trim() === '' ? {} : { acr_values: profile.acr_values.trim() }),
    // OIDC Core §3.1.2.1: max_age=0 makes auth_time required and forces a new login.
    ...(fresh ? { max_age: '0', prompt: 'login' } : {}),
  };
}

async function loopbackLogin(provider: Provider, options: LoginOptions) {
  const { profile } = options;
  const secrets = await requestSecrets();
  const openid = profile.scopes.includes('openid');
  const listener = await listenForCallback(secrets.state, profile.redirect_port);
  try {
    const url = authorizationUrl(provider, {
      redirect_uri: listener.redirectUri,
      response_type: 'code',
      code_challenge: secrets.challenge,
      code_challenge_method: 'S256',
      state: secrets.state,
      ...(openid ? { nonce: secrets.nonce } : {}),
      ...requestParams(profile, options.fresh),
    });
    const opened = options.browser && (await openBrowser(url, options.env));
    options.say(
      opened
        ? 'Your browser is opening the sign-in page. If it does not, open this URL:'
        : 'Open this URL in a browser on this machine and sign in with your security key or passkey:',
    );
    options.say(`  ${url}`);
    options.say(`Waiting for the sign-in (Ctrl+C to cancel)…`);

    const timeoutMs = options.timeoutMs ?? LOGIN_TIMEOUT_MS;
    const signal = AbortSignal.any([
      AbortSignal.timeout(timeoutMs),
      ...(options.signal === undefined ? [] : [options.signal]),
    ]);
    let callback: URL;
    try {
      callback = await listener.next(signal);
    } catch (cause) {
      throw new PgkeyError('ERR_LOGIN_FAILED', {
        message: `no sign-in arrived within ${Math.round(timeoutMs / 1000)} s`,
        hint: 'run pgkey login again; on a machine without a browser, forward the port (ssh -L) or use pgkey login --device where the provider allows it',
        reason: 'login_timeout',
        cause,
      });
    }
    try {
      const tokens = await redeemCode(provider, callback, {
        verifier: secrets.verifier,
        state: secrets.state,
        nonce: openid ? secrets.nonce : undefined,
        ...(options.fresh && openid ? { maxAge: 0 } : {}),
      });
      listener.finish({
        ok: true,
        title: 'Signed in',
        text: 'pgkey has your token. You may close this tab and return to the terminal.',
      });
      return tokens;
    } catch (error) {
      listener.finish({
        ok: false,
        title: 'Sign-in failed',
        text: `${error instanceof Error ? error.message : 'The login did not complete'}. See the terminal; you may close this tab.`,
      });
      throw error;
    }
  } finally {
    await listener.close();
  }
}

async function deviceLogin(provider: Provider, options: LoginOptions) {
  const { profile } = options;
  if (provider.deviceEndpoint === undefined) {
    throw new PgkeyError('ERR_LOGIN_FAILED', {
      message: `the provider ${profile.issuer} offers no device login (RFC 8628: no device_authorization_endpoint)`,
      hint: "log in without --device (a browser on this machine, or forward the callback port with ssh -L); pgkey's built-in provider offers --device only with idp.cli_device_flow: true",
      reason: 'device_flow_unavailable',
    });
  }
  let device;
  try {
    device = await startDeviceAuthorization(provider, requestParams(profile, options.fresh));
  } catch (error) {
    const code = oauthErrorCode(error instanceof PgkeyError ? error.cause : error);
    if (code === 'unauthorized_client' || code === 'unsupported_grant_type') {
      throw new PgkeyError('ERR_LOGIN_FAILED', {
        message: `the provider ${profile.issuer} does not allow client "${profile.client_id}" the device login (${code})`,
        hint: "log in without --device; on pgkey's built-in provider an administrator enables it with idp.cli_device_flow: true",
        reason: 'device_flow_refused',
        cause: error,
      });
    }
    throw error;
  }
  options.say('To sign in, open this page on a device with your security key or passkey:');
  options.say(`  ${device.verificationUriComplete ?? device.verificationUri}`);
  options.say(`and check that it shows the code  ${device.userCode}`);
  options.say(
    'Only continue if you started this login yourself just now. If someone sent you a code or link, stop.',
  );
  options.say(
    `Waiting for the sign-in (the code expires in ${Math.round(device.expiresIn / 60)} min)…`,
  );
  const signal = AbortSignal.any([
    AbortSignal.timeout(device.expiresIn * 1000),
    ...(options.signal === undefined ? [] : [options.signal]),
  ]);
  try {
    return await pollDevice(provider, device, signal);
  } catch (error) {
    if (signal.aborted) {
      throw new PgkeyError('ERR_LOGIN_FAILED', {
        message: 'the device code expired before the sign-in was approved',
        hint: 'run pgkey login --device again',
        reason: 'login_timeout',
        cause: error,
      });
    }
    throw providerError(error, 'the device login');
  }
}

/**
 * Enrollment from an invite link without a browser: the two fetch() calls the enrollment
 * page's script makes (src/idp/pages/enroll.ts), with the software authenticator answering
 * navigator.credentials.create():
 *
 *   POST <issuer>/enroll/<secret>/options → { challengeId, options }
 *   POST <issuer>/enroll/<secret>/verify  { challengeId, response, name } → { redirectTo }
 *
 * The provider registers the key, spends the invite, and signs the person in to its pages.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import { HeadlessBrowser } from './headless-browser.ts';
import type { SoftAuthenticator } from './soft-authenticator.ts';

export interface SoftKeyEnrollment {
  /** base64url, as the directory stores it. */
  readonly credentialId: string;
  /** Where the page would go next ("My keys"). */
  readonly redirectTo: string;
  /** Signed in to the provider's pages by the enrollment. */
  readonly browser: HeadlessBrowser;
}

export async function enrollWithSoftKey(options: {
  /** `<issuer>/enroll/<secret>`, as `pgkey users invite` prints it. */
  readonly link: string;
  readonly authenticator: SoftAuthenticator;
  readonly name?: string;
}): Promise<SoftKeyEnrollment> {
  const link = options.link.replace(/\/+$/, '');
  const browser = new HeadlessBrowser(link);
  const begun = await browser.postJson(`${link}/options`, {});
  if (begun.status !== 200) throw refused('enrollment options', begun);
  const created = await options.authenticator.create(begun.json.options as never, {
    origin: browser.origin,
  });
  const verified = await browser.postJson(`${link}/verify`, {
    challengeId: begun.json.challengeId,
    response: created,
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  if (verified.status !== 200) throw refused('enrollment', verified);
  return {
    credentialId: created.id,
    redirectTo: typeof verified.json.redirectTo === 'string' ? verified.json.redirectTo : '',
    browser,
  };
}

function refused(step: string, answer: { status: number; json: Record<string, unknown> }) {
  const error = typeof answer.json.error === 'string' ? answer.json.error : 'refused';
  const message = typeof answer.json.message === 'string' ? answer.json.message : '';
  return new PgkeyError('ERR_WEBAUTHN_REGISTRATION', {
    message: `${step} refused (${answer.status} ${error})${message === '' ? '' : `: ${message}`}`,
    reason: error,
  });
}

/**
 * /assets/*: the few static files the provider pages load from their own origin (no CDN):
 * the @simplewebauthn/browser UMD bundle, login.js and pgkey.css, and the account pages'
 * account.js and account.css. Loaded into memory once at start-up; a missing bundle fails the
 * start, not the first sign-in.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { ACCOUNT_SCRIPT } from '../pages/account-script.ts';
import { ACCOUNT_STYLES } from '../pages/account-styles.ts';
import { LOGIN_SCRIPT, STYLESHEET } from './login-script.ts';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export type Assets = ReadonlyMap<string, Asset>;

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

async function simpleWebAuthnBundle(): Promise<Buffer> {
  // The package exports only its module entry; the UMD bundle sits beside it.
  const entry = import.meta.resolve('@simplewebauthn/browser');
  const file = new URL('../dist/bundle/index.umd.min.js', entry);
  try {
    return await readFile(file);
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: 'the @simplewebauthn/browser bundle is missing; reinstall pgkey',
      reason: 'asset_missing',
      cause,
    });
  }
}

export async function loadAssets(): Promise<Assets> {
  return new Map([
    ['simplewebauthn-browser.umd.min.js', asset(await simpleWebAuthnBundle(), JS)],
    ['login.js', asset(Buffer.from(LOGIN_SCRIPT), JS)],
    ['pgkey.css', asset(Buffer.from(STYLESHEET), CSS)],
    ['account.js', asset(Buffer.from(ACCOUNT_SCRIPT), JS)],
    ['account.css', asset(Buffer.from(ACCOUNT_STYLES), CSS)],
  ]);
}

/** GET/HEAD of one asset; false when there is no such asset. */
export function serveAsset(
  assets: Assets,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const found = assets.get(name);
  if (found === undefined) return false;
  res.setHeader('Cache-Control', 'public, max-age=300');
  res.setHeader('ETag', found.etag);
  if (req.headers['if-none-match'] === found.etag) {
    res.writeHead(304).end();
    return true;
  }
  res.writeHead(200, { 'Content-Type': found.type, 'Content-Length': found.body.length });
  res.end(req.method === 'HEAD' ? undefined : found.body);
  return true;
}

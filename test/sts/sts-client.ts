/** Plain HTTP calls to the harness's token service (loopback http), as a client would make them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  ACCESS_TOKEN_TYPE,
  AGENT_NAME_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
} from '../../src/sts/api-types.ts';
import { readAudit, type AuditLine } from '../support/e2e-clients.ts';
import type { GatewayHarness } from '../support/gateway-harness.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export function stsUrl(h: GatewayHarness, path: string): string {
  assert.ok(h.tokenService !== undefined, 'the harness runs no token service');
  return `${h.tokenService}${path}`;
}

export async function call(
  h: GatewayHarness,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; form?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(stsUrl(h, path), { method, headers, body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

export function mint(
  h: GatewayHarness,
  token: string,
  request: Record<string, unknown>,
): Promise<HttpAnswer> {
  return call(h, 'POST', '/v1/tokens', { token, json: request });
}

/** RFC 8693 §2.1 request for an agent token. */
export function exchange(
  h: GatewayHarness,
  subjectToken: string,
  agent: string,
  extra: Record<string, string> = {},
): Promise<HttpAnswer> {
  return call(h, 'POST', '/v1/token', {
    form: {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: agent,
      actor_token_type: AGENT_NAME_TOKEN_TYPE,
      ...extra,
    },
  });
}

/** The unverified claims and header of a token (the tests verify through the gateway). */
export function peek(token: string) {
  return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
}

export function tokenOf(answer: HttpAnswer): string {
  assert.equal(answer.status < 300, true, `HTTP ${answer.status}: ${JSON.stringify(answer.body)}`);
  const token = answer.body.access_token;
  assert.equal(typeof token, 'string');
  return token as string;
}

/** The answer to a refused request, and the one `token.refused` record it left in the trail. */
export async function refused(
  h: GatewayHarness,
  request: () => Promise<HttpAnswer>,
): Promise<HttpAnswer & { readonly record: AuditLine }> {
  const from = readAudit(h).length;
  const answer = await request();
  const records = readAudit(h)
    .slice(from)
    .filter((e) => e.type === 'token.refused');
  assert.equal(records.length, 1, `one token.refused for HTTP ${answer.status}`);
  return { ...answer, record: records[0] as AuditLine };
}

/** No token, nor its signature alone, appears anywhere in the audit trail. */
export function assertNotInTrail(h: GatewayHarness, ...tokens: readonly string[]): void {
  const trail = readFileSync(h.auditFile, 'utf8');
  for (const token of tokens) {
    assert.ok(!trail.includes(token), 'a token is in the audit trail');
    const signature = token.split('.').at(-1) ?? '';
    if (signature.length >= 16) assert.ok(!trail.includes(signature), 'a token signature too');
  }
}

/**
 * Signs the token service's tokens as JWT access tokens (RFC 9068): header `typ: at+jwt`
 * (§2.1), ES256 with the current key's `kid`; claims `iss`, `aud`, `sub`, `client_id`,
 * `iat`, `exp` and a random `jti` (§2.2), plus what token-claims.ts adds. The gateway's
 * verifier checks them exactly as it checks any issuer's (token-verifier.ts).
 */
import { SignJWT } from 'jose';
import type { Clock } from '../runtime/clock.ts';
import type { Random } from '../runtime/random.ts';
import type { ServiceKeys } from './service-keys.ts';

/** RFC 9068 §2.2 `client_id`: the pgkey command line asks for these tokens. */
export const TOKEN_CLIENT_ID = 'pgkey-cli';

export interface SignedToken {
  readonly token: string;
  readonly jti: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface TokenSigner {
  /** `claims` must hold `sub`; lifetimes are whole seconds (NumericDate, RFC 7519 §2). */
  sign(claims: Readonly<Record<string, unknown>>, ttlMs: number): Promise<SignedToken>;
}

export function createTokenSigner(options: {
  readonly keys: ServiceKeys;
  readonly issuer: () => string;
  readonly audience: () => string;
  readonly clock: Clock;
  readonly random: Random;
}): TokenSigner {
  return {
    async sign(claims, ttlMs) {
      const { kid, key } = await options.keys.signer();
      const iat = Math.floor(options.clock.now() / 1000);
      const exp = iat + Math.max(1, Math.floor(ttlMs / 1000));
      const jti = options.random.bytes(16).toString('base64url');
      const token = await new SignJWT({
        ...claims,
        client_id: TOKEN_CLIENT_ID,
      })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .setIssuer(options.issuer())
        .setAudience(options.audience())
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(key);
      return { token, jti, issuedAt: iat * 1000, expiresAt: exp * 1000 };
    },
  };
}

/**
 * The JWS algorithms pgkey ever verifies (RFC 7518 §3.1): asymmetric only. `none` and the
 * HMAC family are absent on purpose — an HMAC "key" could be the issuer's published public
 * key (RFC 8725 §2.1, §3.1). Issuers narrow this further with `issuers[].algorithms`.
 */
export const JWS_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
] as const;

export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

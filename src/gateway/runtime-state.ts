import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import type { Config } from '../config/schema.ts';
import { PgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import {
  createTokenVerifier,
  type InternalIssuer,
  type TokenVerifier,
} from '../identity/token-verifier.ts';
import { ClientCertIssuer } from '../pki/client-cert-issuer.ts';
import { loadUpstreamCa } from '../pki/upstream-ca.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Random } from '../runtime/random.ts';
import type { UpstreamCredential, UpstreamTarget } from '../upstream/connector.ts';
import { loadScramSecrets } from '../upstream/scram-secrets.ts';

/**
 * Everything the gateway derives from its config files: TLS material, trusted issuers,
 * the upstream CA or SCRAM secrets. Built whole, then swapped in one assignment, so a
 * SIGHUP that fails half-way leaves the previous state serving (fail closed at start,
 * keep serving on a bad reload).
 */
export interface RuntimeState {
  readonly config: Config;
  readonly tlsContext: tls.SecureContext | undefined;
  readonly verifier: TokenVerifier;
  readonly target: UpstreamTarget;
  readonly credential: (role: string) => Promise<UpstreamCredential>;
}

export interface RuntimeDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly fetch?: typeof globalThis.fetch;
  readonly onKeyFetch?: (issuer: string, outcome: 'ok' | 'error' | 'stale') => void;
  /** Reused across reloads so cached certificates survive unless the CA changed. */
  readonly certIssuer?: ClientCertIssuer;
  /** Issuers pgkey runs itself (the token service), trusted besides `config.issuers`. */
  readonly internalIssuers?: (config: Config) => readonly InternalIssuer[];
}

export async function buildRuntimeState(
  config: Config,
  deps: RuntimeDeps,
): Promise<RuntimeState & { certIssuer: ClientCertIssuer | undefined }> {
  const tlsContext =
    config.listen.tls === undefined
      ? undefined
      : tls.createSecureContext({
          cert: await readTlsFile(config.listen.tls.cert, 'listen.tls.cert'),
          key: await readTlsFile(config.listen.tls.key, 'listen.tls.key'),
          minVersion: 'TLSv1.2',
        });
  const verifier = await createTokenVerifier({
    issuers: config.issuers,
    clock: deps.clock,
    logger: deps.logger,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.onKeyFetch === undefined ? {} : { onKeyFetch: deps.onKeyFetch }),
    ...(deps.internalIssuers === undefined ? {} : { internal: deps.internalIssuers(config) }),
  });
  const upstream = config.upstream;
  const target: UpstreamTarget = {
    host: upstream.host,
    port: upstream.port,
    servername: upstream.tls.servername ?? upstream.host,
    ca: await readTlsFile(upstream.tls.ca, 'upstream.tls.ca'),
  };

  let certIssuer: ClientCertIssuer | undefined;
  let credential: (role: string) => Promise<UpstreamCredential>;
  if (upstream.auth === 'cert') {
    if (upstream.ca === undefined) throw missing('upstream.ca', 'cert');
    const ca = await loadUpstreamCa(upstream.ca, { clock: deps.clock }).catch(asConfigError);
    certIssuer = deps.certIssuer;
    if (certIssuer === undefined) {
      certIssuer = new ClientCertIssuer({
        ca,
        ttlMs: upstream.cert_ttl,
        clock: deps.clock,
        random: deps.random,
      });
    } else if (certIssuer.caFingerprint !== ca.fingerprint) {
      certIssuer.setCa(ca);
    }
    const issuer = certIssuer;
    // The same object for as long as the issuer caches the certificate, so the connector's
    // per-credential TLS context (parsed CA, key and certificate) is built once per window.
    const wrapped = new WeakMap<object, UpstreamCredential>();
    credential = async (role) => {
      const issued = await issuer.credentialFor(role);
      let found = wrapped.get(issued);
      if (found === undefined) {
        found = { kind: 'cert', key: issued.key, cert: issued.cert };
        wrapped.set(issued, found);
      }
      return found;
    };
  } else {
    if (upstream.scram === undefined) throw missing('upstream.scram', 'scram');
    const secrets = await loadScramSecrets(upstream.scram.secrets_file);
    // One credential object per role, so the connector's per-credential TLS context is reused.
    const byRole = new Map<string, UpstreamCredential>();
    credential = (role) => {
      const password = secrets.get(role);
      if (password === undefined) {
        return Promise.reject(
          new PgkeyError('ERR_UPSTREAM_AUTH', {
            reason: 'scram_secret_missing',
            hint: `the operator must add role "${role}" to upstream.scram.secrets_file`,
          }),
        );
      }
      let found = byRole.get(role);
      if (found === undefined) byRole.set(role, (found = { kind: 'scram', password }));
      return Promise.resolve(found);
    };
  }
  return { config, tlsContext, verifier, target, credential, certIssuer };
}

async function readTlsFile(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${key}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      reason: 'file_unreadable',
      cause: error,
    });
  }
}

/**
 * A CA file the config points at that cannot be used (missing, unreadable, mode too open) is
 * a configuration error at start (exit 78, like listen.tls files), not a runtime file error.
 */
function asConfigError(error: unknown): never {
  if (!isPgkeyError(error, 'ERR_FILE')) throw error;
  throw new PgkeyError('ERR_CONFIG', {
    message: `upstream.ca: ${error.message}`,
    hint: error.hint,
    reason: error.reason,
    cause: error,
  });
}

function missing(key: string, auth: string): PgkeyError {
  return new PgkeyError('ERR_CONFIG', {
    message: `${key} is required when upstream.auth is ${auth}`,
  });
}

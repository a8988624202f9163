/**
 * What the token service's handlers work with, passed in (STYLE.md §3): the gateway's own
 * verifier and decision (so revocation checks and policy are exactly a login's), the signer,
 * the directory, the audit trail, time. Getters return the current value across reloads.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditClient } from '../audit/events.ts';
import type { IssuerConfig, PolicyRuleConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import type { AccessRequest, Decision } from '../policy/decide.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Directory } from '../store/directory.ts';
import type { JSONWebKeySet } from 'jose';
import type { TokenServiceSettings } from './settings.ts';
import type { TokenSigner } from './token-signer.ts';

export interface StsContext {
  readonly settings: () => TokenServiceSettings;
  readonly policy: () => readonly PolicyRuleConfig[];
  readonly issuers: () => readonly IssuerConfig[];
  /** The gateway's verification: issuers, FIDO2 evidence, directory revocations. */
  readonly verify: (token: string) => Promise<Identity>;
  /** The gateway's decision for a login. */
  readonly authorize: (identity: Identity, request: AccessRequest) => Decision;
  readonly signer: TokenSigner;
  readonly jwks: () => JSONWebKeySet;
  readonly directory: Directory;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The port the gateway's wire listener is bound to. */
  readonly gatewayPort: () => number;
}

/** One request's caller, as the handlers see it. */
export interface Caller {
  readonly identity: Identity;
  readonly client: AuditClient;
}

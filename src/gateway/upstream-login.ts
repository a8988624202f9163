import { isPgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import type { ProvisionLease } from '../provision/provisioner.ts';
import { connectUpstream, type UpstreamConnection } from '../upstream/connector.ts';
import type { GatewayContext, Peer } from './context.ts';

export interface UpstreamLoginInput {
  readonly identity: Identity;
  readonly granted: { readonly rule: string; readonly role: string; readonly database: string };
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  readonly session: { readonly id: string; readonly peer: Peer };
}

export interface UpstreamLogin {
  readonly upstream: UpstreamConnection;
  /** Rules with `provision`: the person's role, held until the session ends. */
  readonly lease: ProvisionLease | undefined;
}

/** Provisioning, then the login, at most this many times (see below). */
const PROVISIONED_ATTEMPTS = 3;

/**
 * Logs in to PostgreSQL for a granted request: as the granted role, or, when the granting
 * rule provisions, as the person's own role (src/provision). Another pgkey node may retire
 * that role — NOLOGIN or dropped — between this node's provisioning and its login, when it
 * saw no session of the person yet: PostgreSQL then refuses the login (28000), and
 * provisioning again, under the person's lock, makes the role usable for this login.
 */
export async function loginUpstream(
  ctx: GatewayContext,
  input: UpstreamLoginInput,
): Promise<UpstreamLogin> {
  const { granted } = input;
  const connect = async (role: string): Promise<UpstreamConnection> =>
    connectUpstream(ctx.upstreamTarget(), {
      role,
      database: granted.database,
      parameters: input.parameters,
      credential: await ctx.upstreamCredential(role),
      timeoutMs: ctx.upstreamTimeoutMs(),
    });
  let lease = await ctx.provision(input.identity, granted, input.session);
  if (lease === undefined) return { upstream: await connect(granted.role), lease };
  for (let attempt = 1; ; attempt++) {
    try {
      return { upstream: await connect(lease.role), lease };
    } catch (error) {
      const retired =
        isPgkeyError(error, 'ERR_UPSTREAM_AUTH') && error.reason === 'upstream_auth_rejected';
      if (!retired || attempt >= PROVISIONED_ATTEMPTS) {
        lease.release();
        throw error;
      }
      // The new lease before the old one goes, so this node's count never touches zero.
      const next = await ctx
        .provision(input.identity, granted, input.session)
        .catch((e: unknown) => {
          lease?.release();
          throw e;
        });
      lease.release();
      if (next === undefined) throw error; // a reload took provisioning away meanwhile
      lease = next;
    }
  }
}

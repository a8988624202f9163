/**
 * Per-person roles for one gateway process (DESIGN.md step 6, docs/provisioning.md): the
 * plan for a granted login, the connect-time reconcile, and the count of this node's sessions
 * per role that decides when the last one has ended. The count is this node's only: other
 * nodes' sessions are seen in pg_stat_activity, under the same per-person lock
 * (docs/decisions/0012-per-person-roles.md).
 *
 * A role's count goes up before anything else happens for a connect and down when its session
 * ends or its connect fails; reaching zero queues a retire step, which re-checks everything
 * under the lock. Steps for one role run one after the other.
 */
import type { AuditEventInput } from '../audit/events.ts';
import { identityFields } from '../audit/events.ts';
import type { PolicyRuleConfig, ProvisionMode, ProvisioningConfig } from '../config/schema.ts';
import { asPgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { UpstreamCredential, UpstreamTarget } from '../upstream/connector.ts';
import { AdminConnection } from './admin-connection.ts';
import type { RoleOwner } from './owner-marker.ts';
import { planProvisioning, type ProvisionPlan } from './plan.ts';
import { isDuplicateRole, provisionError, reconcileRole } from './reconcile.ts';
import { retireRole, type RetireOutcome } from './retire.ts';

/** One connect's hold on the person's role, from before provisioning until its session ends. */
export interface ProvisionLease {
  /** The person's role: the user the upstream login uses (`current_user`). */
  readonly role: string;
  readonly grants: readonly string[];
  /** The session ended or never opened; `backendPid`: its upstream backend, if it logged in. */
  release(backendPid?: number): void;
}

/** Who a connect is, for the role events it causes. */
export interface ProvisionContext {
  readonly identity: Identity;
  readonly session: string;
  readonly client: { readonly address: string; readonly port: number };
}

export interface ProvisionerOptions {
  readonly settings: () => ProvisioningConfig | undefined;
  readonly policy: () => readonly PolicyRuleConfig[];
  readonly target: () => UpstreamTarget;
  readonly timeoutMs: () => number;
  readonly credential: (role: string) => Promise<UpstreamCredential>;
  /** Role events; resolves once they are as durable as AUDIT_DURABILITY says. */
  readonly emit: (event: AuditEventInput) => Promise<void>;
  readonly clock: Clock;
  readonly logger: Logger;
}

interface RoleState {
  /** `#roles` key: the role name and the identity it is for. */
  readonly key: string;
  readonly role: string;
  readonly owner: RoleOwner;
  /** Sessions of this role connecting or live on this node. */
  active: number;
  /** `drop` only while every plan since the count left zero said drop: keep wins. */
  mode: ProvisionMode;
  /** Upstream backends of this node's ended sessions, which may still be exiting. */
  readonly endedPids: Set<number>;
  last: ProvisionContext;
  /** Retire steps queued or running. */
  retiring: number;
  chain: Promise<void>;
}

/** How long to wait for this node's ended backends to leave pg_stat_activity, in steps. */
const LINGER_WAITS_MS = [20, 40, 80, 160, 320, 640, 1280, 2560];

export class Provisioner {
  readonly #o: ProvisionerOptions;
  readonly #roles = new Map<string, RoleState>();
  #admin: { key: string; connection: AdminConnection } | undefined;
  #settings: ProvisioningConfig | undefined;

  constructor(options: ProvisionerOptions) {
    this.#o = options;
  }

  /** What a granted login needs; undefined when its rule does not provision. Throws for a bad name. */
  plan(
    identity: Identity,
    granted: { readonly rule: string; readonly database: string },
  ): ProvisionPlan | undefined {
    return planProvisioning(
      this.#o.policy(),
      this.#o.settings(),
      identity,
      granted,
      this.#o.clock.now(),
    );
  }

  /** Makes the person's role ready to log in as the plan says; the lease holds it so. */
  async acquire(plan: ProvisionPlan, context: ProvisionContext): Promise<ProvisionLease> {
    const state = this.#hold(plan, context);
    let released = false;
    const release = (backendPid?: number): void => {
      if (released) return;
      released = true;
      if (backendPid !== undefined) state.endedPids.add(backendPid);
      state.last = context;
      state.active--;
      if (state.active === 0) this.#queueRetire(state);
    };
    try {
      const outcome = await this.#reconcile(plan, () => state.active > 1);
      const common = {
        session: context.session,
        client: context.client,
        role: plan.role,
        ...identityFields(context.identity),
      };
      if (outcome.created || outcome.enabled) {
        await this.#o.emit({
          type: 'role.provisioned',
          ...common,
          created: outcome.created,
          roles: plan.grants,
          rules: plan.rules,
        });
      }
      if (!outcome.created && outcome.granted.length + outcome.revoked.length > 0) {
        await this.#o.emit({
          type: 'role.grants_changed',
          ...common,
          granted: outcome.granted,
          revoked: outcome.revoked,
          rules: plan.rules,
        });
      }
    } catch (error) {
      release();
      throw provisionError(error);
    }
    return { role: plan.role, grants: plan.grants, release };
  }

  /** Lets queued retire steps finish (bounded), then closes the admin connection. */
  async close(timeoutMs = 10_000): Promise<void> {
    const chains = [...this.#roles.values()].map((state) => state.chain);
    await Promise.race([
      Promise.allSettled(chains),
      new Promise((resolve) => this.#o.clock.setTimer(timeoutMs, () => resolve(undefined))),
    ]);
    await this.#admin?.connection.close();
    this.#admin = undefined;
  }

  #hold(plan: ProvisionPlan, context: ProvisionContext): RoleState {
    // One state per name *and* identity: a connect of someone else whose claim gives the same
    // name (refused under the lock: the role is not theirs) must not count as a session of
    // the role, set its mode (keep would stop a drop) or be named in its events.
    const key = JSON.stringify([plan.role, plan.owner.issuer, plan.owner.subject]);
    let state = this.#roles.get(key);
    if (state === undefined) {
      state = {
        key,
        role: plan.role,
        owner: plan.owner,
        active: 0,
        mode: plan.mode,
        endedPids: new Set(),
        last: context,
        retiring: 0,
        chain: Promise.resolve(),
      };
      this.#roles.set(key, state);
    }
    if (state.active === 0 && state.retiring === 0) state.mode = plan.mode;
    else if (plan.mode === 'keep') state.mode = 'keep';
    state.active++;
    return state;
  }

  async #reconcile(plan: ProvisionPlan, othersHere: () => boolean) {
    const admin = this.#connection();
    try {
      return await admin.transaction((sql) => reconcileRole(sql, plan, othersHere));
    } catch (error) {
      // Someone other than pgkey created the name between our look and CREATE ROLE: the
      // second look refuses it as not pgkey's.
      if (!isDuplicateRole(error)) throw error;
      return admin.transaction((sql) => reconcileRole(sql, plan, othersHere));
    }
  }

  #queueRetire(state: RoleState): void {
    state.retiring++;
    state.chain = state.chain
      .then(() => this.#retire(state))
      .catch((error: unknown) => {
        const failure = asPgkeyError(error);
        this.#o.logger.error(
          { role: state.role, err: failure.cause ?? failure },
          'could not disable or drop a provisioned role after its last session',
        );
      })
      .finally(() => {
        state.retiring--;
        if (state.active === 0 && state.retiring === 0) {
          this.#roles.delete(state.key);
        }
      });
  }

  async #retire(state: RoleState): Promise<void> {
    let outcome: RetireOutcome = { kind: 'lingering' };
    for (let attempt = 0; outcome.kind === 'lingering'; attempt++) {
      if (state.active > 0) return; // a new session: its end queues another step
      outcome = await retireRole(this.#connection(), {
        role: state.role,
        owner: state.owner,
        mode: state.mode,
        reassignTo: this.#settings?.reassign_to,
        endedPids: state.endedPids,
        activeHere: () => state.active > 0,
      });
      const wait = LINGER_WAITS_MS[attempt];
      if (outcome.kind !== 'lingering') break;
      if (wait === undefined) {
        this.#o.logger.warn(
          { role: state.role },
          'a provisioned role keeps LOGIN: backends of its ended sessions did not exit',
        );
        return;
      }
      await new Promise((resolve) => this.#o.clock.setTimer(wait, () => resolve(undefined)));
    }
    const last = state.last;
    const common = {
      session: last.session,
      client: last.client,
      role: state.role,
      ...identityFields(last.identity),
    };
    switch (outcome.kind) {
      case 'deactivated':
        await this.#o.emit({ type: 'role.deactivated', ...common, reason: 'last_session_ended' });
        return;
      case 'drop_blocked':
        this.#o.logger.warn(
          { role: state.role, detail: outcome.detail },
          'a provisioned role could not be dropped; it is NOLOGIN instead',
        );
        await this.#o.emit({ type: 'role.deactivated', ...common, reason: 'drop_blocked' });
        return;
      case 'dropped':
        await this.#o.emit({
          type: 'role.dropped',
          ...common,
          reassigned_to: this.#settings?.reassign_to ?? '',
          databases: outcome.databases,
        });
        return;
      case 'skipped':
        return;
      default:
        throw new TypeError(`unhandled outcome ${JSON.stringify(outcome satisfies never)}`);
    }
  }

  /** The admin connection for the current settings; rebuilt when they or the target change. */
  #connection(): AdminConnection {
    // Roles made under settings a reload took away still have to be retired with them.
    const settings = this.#o.settings() ?? this.#settings;
    if (settings === undefined) throw new TypeError('provisioning is not configured');
    this.#settings = settings;
    const target = this.#o.target();
    const key = JSON.stringify([
      target,
      settings.admin_role,
      settings.admin_database,
      settings.pool_size,
    ]);
    if (this.#admin?.key !== key) {
      const previous = this.#admin?.connection;
      this.#admin = {
        key,
        connection: new AdminConnection({
          target,
          role: settings.admin_role,
          database: settings.admin_database,
          poolSize: settings.pool_size,
          timeoutMs: this.#o.timeoutMs(),
          credential: this.#o.credential,
        }),
      };
      void previous?.close();
    }
    return this.#admin.connection;
  }
}

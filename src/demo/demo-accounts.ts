/**
 * The demo's people: an administrator in the admin group and the group the demo policy
 * grants, an enrollment link for them, and — for the selftest — revoking a key the way an
 * administrator would. Each change is recorded in the audit trail by this process, as the
 * catalogue asks of whoever changes the directory (src/audit/events.ts, DirectoryEvent).
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Credential, Directory, User } from '../store/directory.ts';
import { inviteSecret, inviteTokenHash } from '../store/invite-secret.ts';

/** 16 random bytes: the WebAuthn user handle, never derived from the e-mail (L3 §14.6.1). */
const USER_ID_BYTES = 16;

export interface DemoActor {
  readonly directory: Directory;
  readonly audit: AuditLog;
  /** `cli:<os user>`: who is making the change. */
  readonly actor: string;
  readonly now: () => number;
}

/** The user with `email`, created when missing, in every group of `groups`. */
export async function ensureUser(
  who: DemoActor,
  input: { readonly email: string; readonly displayName: string; readonly groups: string[] },
): Promise<{ user: User; created: boolean }> {
  const { directory, audit, actor } = who;
  let user = await directory.users.findByEmail(input.email);
  const created = user === undefined;
  if (user === undefined) {
    user = await directory.users.create({
      id: randomBytes(USER_ID_BYTES).toString('base64url'),
      email: input.email,
      displayName: input.displayName,
      now: who.now(),
    });
    await audit.emit({ type: 'user.created', actor, user: user.email });
  }
  for (const group of input.groups) {
    if (user.groups.includes(group)) continue;
    user = await directory.users.addGroup(user.id, group);
    await audit.emit({ type: 'group.added', actor, user: user.email, group });
  }
  return { user, created };
}

/** A single-use enrollment link `<issuer>/enroll/<secret>`; only its hash is stored. */
export async function createEnrollmentLink(
  who: DemoActor,
  input: { readonly user: User; readonly issuer: string; readonly ttlMs: number },
): Promise<{ link: string; expiresAt: number }> {
  const secret = inviteSecret();
  const now = who.now();
  const invite = await who.directory.invites.create({
    id: randomBytes(16).toString('base64url'),
    tokenHash: inviteTokenHash(secret),
    email: input.user.email,
    createdBy: who.actor,
    createdAt: now,
    expiresAt: now + input.ttlMs,
  });
  await who.audit.emit({ type: 'invite.created', actor: who.actor, user: input.user.email });
  return { link: `${input.issuer}/enroll/${secret}`, expiresAt: invite.expiresAt };
}

/** Revokes a key and records `key.revoked`; the directory announces it to every gateway. */
export async function revokeKey(
  who: DemoActor,
  input: { readonly credentialId: string; readonly reason: string },
): Promise<Credential> {
  const credential = await who.directory.credentials.revoke(
    input.credentialId,
    input.reason,
    who.now(),
  );
  const user = await who.directory.users.get(credential.userId);
  await who.audit.emit({
    type: 'key.revoked',
    actor: who.actor,
    user: user?.email ?? credential.userId,
    credential_id: credential.id,
    reason: input.reason,
  });
  return credential;
}

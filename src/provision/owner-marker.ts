/**
 * How pgkey knows a role is one it made, and for whom: COMMENT ON ROLE carries the issuer URL
 * (`iss`) and subject (`sub`) of the person. A role without the marker was made by someone
 * else (a DBA, an application) and is never taken over; a role with another person's marker is
 * a name collision (two identities whose claim gives the same name) and is refused. The
 * comment is readable by every role (shobj_description); `iss` and `sub` are not secrets.
 */
const PREFIX = 'pgkey-provisioned ';

export interface RoleOwner {
  readonly issuer: string;
  readonly subject: string;
}

export function ownerMarker(owner: RoleOwner): string {
  return `${PREFIX}${JSON.stringify({ iss: owner.issuer, sub: owner.subject })}`;
}

/** The owner a role's comment names, or undefined when pgkey did not write it. */
export function parseOwnerMarker(comment: string | null | undefined): RoleOwner | undefined {
  if (comment === null || comment === undefined || !comment.startsWith(PREFIX)) return undefined;
  try {
    const parsed: unknown = JSON.parse(comment.slice(PREFIX.length));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { iss, sub } = parsed as Record<string, unknown>;
    return typeof iss === 'string' && typeof sub === 'string'
      ? { issuer: iss, subject: sub }
      : undefined;
  } catch {
    return undefined;
  }
}

export function sameOwner(a: RoleOwner, b: RoleOwner): boolean {
  return a.issuer === b.issuer && a.subject === b.subject;
}

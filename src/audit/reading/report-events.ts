import { authenticatorName } from '../../idp/webauthn/aaguid-names.ts';
import { num, str } from './event-facts.ts';
import { count, markup, type Html } from './html.ts';
import { ranked, type ReportData } from './report-data.ts';
import type { TokenGroups } from './token-groups.ts';
import { eventTable, grant, keyId, plural, table, when } from './report-parts.ts';
import { refusedRequest, whoOf } from './search-format.ts';
import { barList } from './svg-charts.ts';

/**
 * The report's sections about single events: denials (logins and token requests),
 * revocations, tokens, provisioning.
 */

const TOP = 10;

export function denials(report: ReportData): Html {
  const { denials } = report;
  if (denials.total === 0) return markup`<p class="empty">No login was refused in this period.</p>`;
  const people = ranked(denials.byPerson).slice(0, TOP);
  const addresses = ranked(denials.byAddress).slice(0, TOP);
  const targets = ranked(denials.byTarget).slice(0, TOP);
  return markup`<div class="cols">
    <div>
      <h3>By reason</h3>
      ${barList(ranked(denials.byReason).slice(0, 12))}
      <h3>What was asked for</h3>
      ${table(['role@database', 'refused'], targets, [1])}
    </div>
    <div>
      ${
        people.length === 0
          ? ''
          : markup`<h3>People refused most</h3>
              ${table(['person', 'refused'], people, [1])}`
      }${
        addresses.length === 0
          ? ''
          : markup`<h3>Refused before any identity was proven, by client address</h3>
              ${table(['client address', 'refused'], addresses, [1])}`
      }
    </div>
  </div>`;
}

/** Mints, agent delegations and revocations the token service refused (`token.refused`). */
export function tokenRefusals(report: ReportData, search: string): Html {
  return eventTable(
    report.tokensRefused,
    ['time', 'request', 'who', 'role@database', 'client address', 'reason', 'status'],
    (e) => [
      when(e.time),
      refusedRequest(e.record),
      whoOf(e) || '–',
      grant(e.facts.role, e.facts.database),
      e.facts.address,
      str(e.record, 'reason'),
      num(e.record, 'status')?.toString(),
    ],
    'No token request was refused in this period.',
    `${search} --type token.refused`,
  );
}

export function revocations(report: ReportData, search: string): Html {
  const keys = eventTable(
    report.keysRevoked,
    ['time', 'key', 'owner', 'revoked by', 'reason'],
    (e) => [
      when(e.time),
      keyWithModel(e.facts.credentialId, e.facts.aaguid),
      e.facts.person,
      e.facts.actor,
      str(e.record, 'reason'),
    ],
    'No security key was revoked.',
    `${search} --type key.revoked`,
  );
  const users = eventTable(
    report.usersDisabled,
    ['time', 'person', 'disabled by', 'reason'],
    (e) => [when(e.time), e.facts.person, e.facts.actor, str(e.record, 'reason')],
    'No account was disabled.',
    `${search} --type user.disabled`,
  );
  const sessions = eventTable(
    report.sessionsTerminated,
    ['time', 'who', 'role@database', 'why'],
    (e) => [
      when(e.time),
      whoOf(e),
      grant(e.facts.role, e.facts.database),
      str(e.record, 'detail') ?? str(e.record, 'reason'),
    ],
    'No live session was ended by pgkey.',
    `${search} --type session.terminated`,
  );
  const tokens = eventTable(
    report.tokensRevoked,
    ['time', 'token', 'role@database', 'revoked by', 'reason'],
    (e) => [
      when(e.time),
      str(e.record, 'subject'),
      grant(e.facts.role, e.facts.database),
      e.facts.actor,
      str(e.record, 'reason'),
    ],
    'No service token was revoked.',
    `${search} --type token.revoked`,
  );
  return markup`<h3>Security keys revoked</h3>
    ${keys}
    <h3>Accounts disabled</h3>
    ${users}
    <h3>Sessions ended by pgkey</h3>
    ${sessions}
    <h3>Service tokens revoked</h3>
    ${tokens}`;
}

export function tokens(report: ReportData): Html {
  return markup`<h3>Service tokens minted</h3>
    ${tokenTable(report.tokensMinted, ['minted by', 'token', 'role@database'], 'No service token was minted.')}
    <h3>Agent delegations (RFC 8693 token exchange)</h3>
    ${tokenTable(report.tokensExchanged, ['person', 'agent'], 'No token was handed to an agent.')}`;
}

/** One row per person, token and grant: how often, first and last, latest expiry, login keys. */
function tokenTable(tokens: TokenGroups, what: readonly string[], none: string): Html {
  if (tokens.total === 0) return markup`<p class="empty">${none}</p>`;
  const groups = [...tokens.groups.values()].sort(
    (a, b) =>
      a.actor.localeCompare(b.actor) ||
      a.token.localeCompare(b.token) ||
      a.grant.localeCompare(b.grant),
  );
  const withGrant = what.length === 3;
  return table(
    [...what, 'times', 'first', 'last', 'latest expiry', 'login keys'],
    groups.map((g) => [
      g.actor,
      g.token,
      ...(withGrant ? [g.grant === '' ? '–' : g.grant] : []),
      count(g.count),
      when(g.first),
      when(g.last),
      when(g.expires),
      g.keys.size === 0 ? '–' : [...g.keys].map((id) => markup`${keyId(id)} `),
    ]),
    [what.length],
  );
}

export function provisioning(report: ReportData, search: string): Html {
  return eventTable(
    report.provisioning,
    ['time', 'change', 'person', 'detail', 'by'],
    (e) => [
      when(e.time),
      e.type,
      e.facts.person,
      provisioningDetail(e.type, e.record, e.facts.credentialId),
      e.facts.actor,
    ],
    'No account, group, key or invite changed.',
    `${search} --type 'user.*,group.*,key.added,key.renamed,invite.*'`,
  );
}

/** Abandoned sessions and dropped records: where the trail itself is incomplete. */
export function gaps(report: ReportData, search: string): Html {
  const abandoned = eventTable(
    report.abandoned,
    ['recorded', 'who', 'role@database', 'started', 'last seen'],
    (e) => [
      when(e.time),
      whoOf(e),
      grant(e.facts.role, e.facts.database),
      isoWhen(str(e.record, 'started')),
      isoWhen(str(e.record, 'last_seen')),
    ],
    'None: every session that started has a recorded end.',
    `${search} --type session.abandoned`,
  );
  const dropped = eventTable(
    report.dropped,
    ['recorded', 'events lost', 'from', 'to', 'sinks down'],
    (e) => {
      const sinks = e.record.sinks;
      return [
        when(e.time),
        count(num(e.record, 'count') ?? 0),
        isoWhen(str(e.record, 'first')),
        isoWhen(str(e.record, 'last')),
        Array.isArray(sinks) ? sinks.join(', ') : '–',
      ];
    },
    'None: no event was dropped.',
    `${search} --type audit.dropped`,
  );
  const abandonedNote = markup`<p class="muted">
    pgkey stopped (a crash, <code>kill -9</code>, power loss) while these sessions were open;
    each ended by its “last seen” time.
  </p>`;
  const droppedNote = markup`<div class="note bad">
      ${plural(report.droppedEvents, 'event')} of this period were never recorded.
    </div>
    <p class="muted">
      With <code>audit.on_failure: continue</code>, events beyond <code>audit.buffer</code> are
      dropped while a sink is down, and counted.
    </p>`;
  return markup`<h3>Abandoned sessions</h3>
    ${report.abandoned.total > 0 && abandonedNote} ${abandoned}
    <h3>Gaps: events dropped</h3>
    ${report.dropped.total > 0 && droppedNote} ${dropped}`;
}

function keyWithModel(id: string | undefined, aaguid: string | undefined): Html {
  return markup`${keyId(id)}${aaguid === undefined ? '' : markup` <span class="muted">${authenticatorName(aaguid)}</span>`}`;
}

function provisioningDetail(
  type: string,
  record: Readonly<Record<string, unknown>>,
  credentialId: string | undefined,
): Html | string {
  if (type.startsWith('group.')) return str(record, 'group') ?? '–';
  if (type.startsWith('key.')) return keyWithModel(credentialId, str(record, 'aaguid'));
  return str(record, 'reason') ?? '–';
}

function isoWhen(text: string | undefined): string {
  return when(Date.parse(text ?? ''));
}

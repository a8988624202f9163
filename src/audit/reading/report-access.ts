import { authenticatorName } from '../../idp/webauthn/aaguid-names.ts';
import { count, markup, type Html } from './html.ts';
import { ranked, type Access, type ReportData } from './report-data.ts';
import { keyId, plural, when } from './report-parts.ts';
import { OTHER_COLOR, PALETTE, sparkline, stackedDayChart, type Series } from './svg-charts.ts';

/** Databases drawn in a colour of their own; the rest share grey as "other". */
const SHOWN_DATABASES = PALETTE.length;

/** "Sessions over time": one stacked bar per day, a colour per database, and its legend. */
export function sessionsChart(report: ReportData): Html {
  const databases = ranked(report.databases);
  const named = databases.slice(0, SHOWN_DATABASES).map(([name]) => name);
  const others = new Set(databases.slice(SHOWN_DATABASES).map(([name]) => name));
  const series: Series[] = named.map((name, i) => ({ name, color: PALETTE[i] ?? OTHER_COLOR }));
  if (others.size > 0) series.push({ name: `${others.size} other databases`, color: OTHER_COLOR });
  const chart = stackedDayChart({
    firstDay: report.firstDay,
    days: report.days,
    series,
    unit: 'sessions',
    value(day, s) {
      const byDatabase = report.daily.get(day);
      if (byDatabase === undefined) return 0;
      const name = named[s];
      if (name !== undefined) return byDatabase.get(name) ?? 0;
      let sum = 0;
      for (const [database, n] of byDatabase) if (others.has(database)) sum += n;
      return sum;
    },
  });
  const legend = series.map((s, i) => {
    const n =
      i < named.length ? (report.databases.get(named[i] ?? '') ?? 0) : otherTotal(report, others);
    return markup`<span
      ><i style="background:${s.color}"></i>${s.name} <span class="muted">${count(n)}</span></span
    >`;
  });
  return markup`${chart}
    <div class="legend">${legend}</div>
    <p class="muted">Sessions opened per day (UTC), stacked by database; weekends shaded.</p>`;
}

function otherTotal(report: ReportData, others: ReadonlySet<string>): number {
  let sum = 0;
  for (const [database, n] of report.databases) if (others.has(database)) sum += n;
  return sum;
}

/** "Who accessed what": one card per person, then per service token; same scale for all. */
export function accessCards(report: ReportData): Html {
  const all = [...report.access.values()].filter((a) => a.sessions > 0);
  if (all.length === 0) return markup`<p class="empty">No sessions in this period.</p>`;
  const byName = (a: Access, b: Access) => a.name.localeCompare(b.name);
  const people = all.filter((a) => !a.service).sort(byName);
  const services = all.filter((a) => a.service).sort(byName);
  let max = 1;
  for (const access of all) for (const n of access.daily.values()) max = Math.max(max, n);
  const cards = (list: readonly Access[]) =>
    markup`<div class="people">${list.map((access) => card(access, report, max))}</div>`;
  return markup`${cards(people)}${
    services.length === 0
      ? ''
      : markup`<h3 style="margin-top:22px">Service tokens</h3>
            <p class="muted">
              Sessions opened with tokens minted by a person (<code>pgkey token mint</code>).
            </p>
            ${cards(services)}`
  }
    <p class="muted">
      Each strip shows sessions per day over the period, on one scale for everyone (tallest bar:
      ${plural(max, 'session')} in a day).
    </p>`;
}

function card(access: Access, report: ReportData, max: number): Html {
  const roles = [...new Set([...access.grants.values()].flatMap((m) => [...m.keys()]))].sort();
  const databases = [...access.grants.keys()].sort();
  const grid = markup`<table class="grid">
    <thead>
      <tr>
        <th>database</th>
        ${roles.map((r) => markup`<th class="n">${r}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${databases.map(
        (database) =>
          markup`<tr>
            <th>${database}</th>
            ${roles.map((role) => {
              const n = access.grants.get(database)?.get(role);
              return markup`<td class="n">${n === undefined ? '·' : count(n)}</td>`;
            })}
          </tr>`,
      )}
    </tbody>
  </table>`;
  const keys = ranked(new Map([...access.keys].map(([id, k]) => [id, k.sessions]))).map(
    ([id, n]) => {
      const aaguid = access.keys.get(id)?.aaguid;
      const model = aaguid === undefined ? 'model not recorded' : authenticatorName(aaguid);
      const revoked = report.revokedKeys.get(id);
      // A session opened with a key after its revocation should be impossible: say so loudly.
      const usedAfter = revoked !== undefined && (access.keys.get(id)?.last ?? 0) > revoked;
      return markup`<div>
        ${keyId(id)} ${model} <span class="muted">· ${plural(n, 'session')}</span>
        ${revoked !== undefined && markup`<b class="revoked">revoked ${when(revoked).slice(0, 10)}</b>`}
        ${usedAfter && markup`<b class="revoked">· used after its revocation</b>`}
      </div>`;
    },
  );
  const agents = ranked(access.agents).map(([agent, n]) => `${agent} (${count(n)})`);
  const note = access.service
    ? markup`<div class="who-note">minted by ${[...access.mintedBy].sort().join(', ')}</div>`
    : agents.length > 0
      ? markup`<div class="who-note">also through agents: ${agents.join(', ')}</div>`
      : '';
  return markup`<article class="person">
    <header>
      <h3>${access.name}</h3>
      <span class="muted"
        >${plural(access.sessions, 'session')}${
          access.denials > 0
            ? markup` · <b style="color:var(--bad)">${plural(access.denials, 'denial')}</b>`
            : ''
        }</span
      >
    </header>
    ${note} ${sparkline(access.daily, report.days, max, report.firstDay)} ${grid}
    <dl>
      <dt>First / last</dt>
      <dd>${when(access.first)} → ${when(access.last)}</dd>
      <dt>Keys</dt>
      <dd>
        ${
          keys.length > 0
            ? keys
            : markup`<span class="muted"
                >${access.service ? 'a service token: no security key of its own' : 'none recorded (the issuer sends no credential id)'}</span
              >`
        }
      </dd>
      <dt>From</dt>
      <dd class="mono">${[...access.addresses].sort().join(', ')}</dd>
    </dl>
  </article>`;
}

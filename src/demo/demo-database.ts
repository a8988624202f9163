/**
 * What the demo's PostgreSQL holds: a login role `app` with no password (pgkey logs in as it
 * with a client certificate whose CN is `app`), a database `demo` it owns, and a small table
 * to look at. Idempotent, so a kept cluster is set up again without complaint.
 */
import type { LocalPostgres } from './local-postgres.ts';

export const DEMO_DATABASE = 'demo';
export const DEMO_ROLE = 'app';

const SAMPLE_ROWS: readonly [string, string][] = [
  ['FIDO2', 'phishing-resistant sign-in with a security key or passkey'],
  ['WebAuthn', 'the browser API that talks to the key'],
  ['OpenID Connect', 'how the login becomes a signed token'],
  ['ephemeral certificate', 'how pgkey logs in to PostgreSQL: minutes long, CN = role'],
  ['audit trail', 'who used which database with which key'],
];

export async function provisionDemoDatabase(pg: LocalPostgres): Promise<void> {
  // CREATE ROLE/DATABASE have no IF NOT EXISTS; CREATE DATABASE cannot run in a DO block.
  const role = await pg.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [DEMO_ROLE]);
  if (role.rowCount === 0) await pg.query(`CREATE ROLE ${DEMO_ROLE} LOGIN`);
  const db = await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DATABASE]);
  if (db.rowCount === 0) await pg.query(`CREATE DATABASE ${DEMO_DATABASE} OWNER ${DEMO_ROLE}`);
  await pg.query(
    `CREATE TABLE IF NOT EXISTS glossary (term text PRIMARY KEY, meaning text NOT NULL)`,
    [],
    DEMO_DATABASE,
  );
  await pg.query(`ALTER TABLE glossary OWNER TO ${DEMO_ROLE}`, [], DEMO_DATABASE);
  for (const [term, meaning] of SAMPLE_ROWS) {
    await pg.query(
      'INSERT INTO glossary (term, meaning) VALUES ($1, $2) ON CONFLICT (term) DO NOTHING',
      [term, meaning],
      DEMO_DATABASE,
    );
  }
}

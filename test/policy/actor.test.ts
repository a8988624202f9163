import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig } from '../../src/config/schema.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { decide } from '../../src/policy/decide.ts';
import { explainDecision } from '../../src/policy/explain.ts';
import { personIdentity } from '../support/identities.ts';

/**
 * Delegated identities (an agent acting for a person, RFC 8693 `act`): `match.actor` names
 * the agents a rule is for, and a rule that names none — and does not say `kind: delegated`
 * — does not match them, even though they carry the person's groups.
 */
const NOW = Date.parse('2025-06-01T12:00:00Z');
const MIN = 60_000;

function person(overrides: Partial<Identity> = {}): Identity {
  return personIdentity(NOW, overrides);
}

const agent = (actor: string) => person({ kind: 'delegated', actor });

function rule(name: string, fields: Partial<PolicyRuleConfig> = {}): PolicyRuleConfig {
  return { name, match: {}, databases: ['warehouse'], roles: ['analyst'], ...fields };
}

const POLICY: PolicyRuleConfig[] = [
  rule('analysts', { match: { groups: ['analytics'] }, roles: ['analyst', 'reporting'] }),
  rule('report-bot', {
    match: { groups: ['analytics'], actor: ['agent:report-bot', 'agent:nightly'] },
    roles: ['reporting'],
  }),
  rule('any-agent-reads', { match: { kind: 'delegated' }, roles: ['readonly'] }),
];

const ask = (identity: Identity, role: string) =>
  decide(POLICY, identity, { database: 'warehouse', role }, NOW);

describe('policy: match.actor and delegated identities', () => {
  it('grants a named agent the roles of the rule that names it', () => {
    const decision = ask(agent('agent:report-bot'), 'reporting');
    assert.equal(decision.allowed, true);
    assert.equal(decision.allowed && decision.rule, 'report-bot');
    assert.equal(ask(agent('agent:nightly'), 'reporting').allowed, true, 'any of the list');
  });

  it('does not let a rule without actor match a delegated identity', () => {
    const decision = ask(agent('agent:report-bot'), 'analyst');
    assert.equal(decision.allowed, false);
    assert.ok(!decision.allowed);
    assert.equal(decision.code, 'ERR_ACCESS_DENIED');
    const analysts = decision.verdicts.find((v) => v.rule === 'analysts');
    assert.equal(analysts?.matches, false);
    assert.deepEqual(analysts?.reasons, [
      'delegated identities match only rules with match.actor or kind: delegated',
    ]);
    assert.equal(
      decision.hint,
      'rule "analysts" grants this to people acting for themselves (you act through agent:report-bot). Roles you may use: reporting, readonly on warehouse',
    );
  });

  it('lets `kind: delegated` match every agent, and nothing else', () => {
    assert.equal(ask(agent('agent:unknown'), 'readonly').allowed, true);
    assert.equal(ask(agent('agent:unknown'), 'reporting').allowed, false);
    assert.equal(ask(person(), 'readonly').allowed, false, 'the person is not delegated');
  });

  it('never matches an actor rule for the person acting alone', () => {
    const decision = ask(person(), 'reporting');
    assert.equal(decision.allowed && decision.rule, 'analysts');
    const solo = decide(
      [POLICY[1] as PolicyRuleConfig],
      person(),
      { database: 'warehouse', role: 'reporting' },
      NOW,
    );
    assert.ok(!solo.allowed);
    assert.deepEqual(solo.verdicts[0]?.reasons, [
      'no actor (rule wants [agent:report-bot, agent:nightly])',
    ]);
  });

  it('says which actor did not match, and keeps freshness on the person’s login', () => {
    const decision = ask(agent('agent:other'), 'reporting');
    assert.ok(!decision.allowed);
    const verdict = decision.verdicts.find((v) => v.rule === 'report-bot');
    assert.deepEqual(verdict?.reasons, [
      'actor "agent:other" not in [agent:report-bot, agent:nightly]',
    ]);
    const fresh = [rule('fresh-bot', { match: { actor: ['agent:x'] }, fresh_auth: MIN })];
    const stale = decide(fresh, agent('agent:x'), { database: 'warehouse', role: 'analyst' }, NOW);
    assert.ok(!stale.allowed);
    assert.equal(stale.code, 'ERR_STALE_AUTH');
  });

  it('shows the actor in pgkey policy explain', () => {
    const explained = explainDecision(
      POLICY,
      agent('agent:report-bot'),
      { database: 'warehouse', role: 'analyst' },
      NOW,
    );
    assert.match(explained.text, /^ {2}actor {5}agent:report-bot$/m);
    assert.match(
      explained.text,
      /✗ delegated identities match only rules with match.actor or kind: delegated/,
    );
    assert.match(
      explained.text,
      /✓ actor "agent:report-bot" in \[agent:report-bot, agent:nightly\]/,
    );
    assert.equal(explained.json.identity.actor, 'agent:report-bot');
  });
});

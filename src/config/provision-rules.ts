/**
 * Rules about per-person roles (`policy[].provision`, `provisioning:`): a rule that provisions
 * has an admin connection to do it with, a way to log the person in (a certificate: the role
 * has no password), somewhere to put a dropped role's objects, and never hands out the admin
 * role itself.
 */
import type { ConfigRule } from './rules.ts';

export const PROVISION_RULES: readonly ConfigRule[] = [
  {
    name: 'provisioning',
    description:
      'A rule with `provision` requires the `provisioning` section and `upstream.auth: cert`; `mode: drop` requires `provisioning.reassign_to`; no rule grants `provisioning.admin_role` or `reassign_to`, and neither is a `pg_` role.',
    check: ({ policy, provisioning, upstream }, report) => {
      const provisioned = policy.flatMap((rule, i) => (rule.provision === undefined ? [] : [i]));
      const [first] = provisioned;
      if (first === undefined) {
        if (provisioning !== undefined)
          report.warn(['provisioning'], 'ignored: no policy rule has `provision`');
        return;
      }
      if (provisioning === undefined) {
        report.error(
          ['provisioning'],
          `required: policy[${first}] provisions roles (docs/provisioning.md)`,
        );
        return;
      }
      if (upstream.auth !== 'cert') {
        report.error(
          ['policy', first, 'provision'],
          'needs upstream.auth "cert": provisioned roles have no password, pgkey logs them in with certificates',
        );
      }
      const drops = provisioned.find((i) => policy[i]?.provision?.mode === 'drop');
      if (drops !== undefined && provisioning.reassign_to === undefined) {
        report.error(
          ['provisioning', 'reassign_to'],
          `required: policy[${drops}] drops roles, and their objects need an owner`,
        );
      }
      const special: [string, string | undefined][] = [
        ['admin_role', provisioning.admin_role],
        ['reassign_to', provisioning.reassign_to],
      ];
      for (const [key, role] of special) {
        if (role === undefined) continue;
        if (role.startsWith('pg_'))
          report.error(['provisioning', key], `"${role}" is a reserved PostgreSQL role name`);
        policy.forEach((rule, i) => {
          const j = rule.roles.indexOf(role);
          if (j >= 0)
            report.error(
              ['policy', i, 'roles', j],
              `"${role}" is provisioning.${key}: no rule may grant it`,
            );
        });
      }
      if (provisioning.admin_role === provisioning.reassign_to) {
        report.error(
          ['provisioning', 'reassign_to'],
          'must not be the admin role: dropped roles’ objects would belong to pgkey',
        );
      }
    },
  },
];

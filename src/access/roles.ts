/**
 * Roles and permissions: which role may do what. This table is the only source; `docs/access.md` shows it
 * (a test keeps the document equal to `permissionTableMarkdown()`), and every route names one action.
 */
import type { Role } from '../ports/metadata-store.ts';

export const ROLES: readonly Role[] = ['admin', 'data-engineer', 'analyst', 'marketer', 'viewer'];

export const ACTIONS = {
  'sandbox:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer', 'viewer'], meaning: 'List sandboxes the key may use' },
  'sandbox:manage': { roles: ['admin'], meaning: 'Create, reset and delete sandboxes' },
  'sandbox:backup': { roles: ['admin'], meaning: 'Back up a sandbox to a file and restore one from it' },
  'apikey:manage': { roles: ['admin'], meaning: 'Create, list and revoke API keys' },
  'audit:read': { roles: ['admin'], meaning: 'Read the audit log' },
  'schema:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer'], meaning: 'Read schemas, field groups, data types, namespaces' },
  'schema:write': { roles: ['admin', 'data-engineer'], meaning: 'Create and evolve schemas, field groups, data types, namespaces' },
  'dataset:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer'], meaning: 'Read datasets, their rows and snapshots' },
  'dataset:write': { roles: ['admin', 'data-engineer'], meaning: 'Create and delete datasets, write and ingest data' },
  'query:read': { roles: ['admin', 'data-engineer', 'analyst'], meaning: 'Run SELECT queries' },
  'query:write': { roles: ['admin', 'data-engineer'], meaning: 'Run CTAS, INSERT and DDL; manage schedules' },
  'clv:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer'], meaning: 'Read fitted CLV models; summarise and predict without writing' },
  'clv:write': { roles: ['admin', 'data-engineer'], meaning: 'Fit CLV models into the registry; write CLV attribute and prediction datasets' },
  'profile:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer'], meaning: 'Look up profiles and their events; read identity graphs and merge policies' },
  'profile:write': { roles: ['admin', 'data-engineer'], meaning: 'Manage merge policies and graph settings; unlink, relink and rebuild identities; refresh profile snapshots' },
  'privacy:delete': { roles: ['admin'], meaning: 'Delete a person (privacy request) and read privacy jobs' },
  'audience:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer'], meaning: 'Read audiences and memberships' },
  'audience:write': { roles: ['admin', 'marketer'], meaning: 'Build and evaluate audiences' },
  'activation:write': { roles: ['admin', 'marketer'], meaning: 'Configure destinations, activations and campaigns' },
  'dashboard:read': { roles: ['admin', 'data-engineer', 'analyst', 'marketer', 'viewer'], meaning: 'Read dashboards and widgets' },
  'dashboard:write': { roles: ['admin', 'analyst', 'marketer'], meaning: 'Build dashboards and widgets' },
} as const satisfies Record<string, { roles: readonly Role[]; meaning: string }>;

export type Action = keyof typeof ACTIONS;

export function can(role: Role, action: Action): boolean {
  return (ACTIONS[action].roles as readonly Role[]).includes(role);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function permissionTableMarkdown(): string {
  const header = `| action | meaning | ${ROLES.join(' | ')} |`;
  const rule = `|---|---|${ROLES.map(() => ':-:').join('|')}|`;
  const rows = (Object.keys(ACTIONS) as Action[]).map(
    (action) => `| \`${action}\` | ${ACTIONS[action].meaning} | ${ROLES.map((role) => (can(role, action) ? '✓' : '')).join(' | ')} |`,
  );
  return [header, rule, ...rows].join('\n');
}

/**
 * Principal: who is asking, as established by authentication, and the checks every request goes through
 * (role allows the action, key is valid for the sandbox).
 */
import { RoundtripError } from '../core/errors.ts';
import type { Role } from '../ports/metadata-store.ts';
import { can, type Action } from './roles.ts';

export interface Principal {
  /** Key id, or `local` for the operator using the CLI on the data directory itself. */
  id: string;
  name: string;
  role: Role;
  /** Sandboxes this principal may use; `['*']` means all. */
  sandboxes: string[];
}

/** The operator at the machine: whoever can open the data directory is its administrator. */
export const LOCAL_OPERATOR: Principal = { id: 'local', name: 'local operator', role: 'admin', sandboxes: ['*'] };

export function mayUseSandbox(principal: Principal, sandbox: string): boolean {
  return principal.sandboxes.includes('*') || principal.sandboxes.includes(sandbox);
}

export function authorize(principal: Principal, action: Action, sandbox?: string): void {
  if (!can(principal.role, action)) {
    throw new RoundtripError('RT_FORBIDDEN_ROLE', `The ${principal.role} role may not do ${action}; ask an admin for a key with a role that may.`, {
      role: principal.role,
      action,
    });
  }
  if (sandbox !== undefined && !mayUseSandbox(principal, sandbox)) {
    throw new RoundtripError('RT_FORBIDDEN_SANDBOX', `This API key is not valid for sandbox "${sandbox}".`, { sandbox });
  }
}

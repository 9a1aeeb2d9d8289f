/**
 * Audit log: who changed what, when, in which sandbox. Every service that changes state records here.
 */
import { isoNow, type Clock } from '../core/clock.ts';
import type { AuditEntry, AuditFilter, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { Principal } from './principal.ts';

export interface AuditEvent {
  sandbox: string | null;
  action: string;
  resourceType: string;
  resourceId: string;
  details?: JsonValue;
}

export class AuditLog {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: Clock,
  ) {}

  record(actor: Principal, event: AuditEvent): Promise<AuditEntry> {
    return this.metadata.audit.append({ at: isoNow(this.clock), actor: actor.id, details: event.details ?? null, ...event });
  }

  list(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.metadata.audit.list({ ...filter, limit: Math.min(filter.limit ?? 100, 1000) });
  }
}

/**
 * Streaming connections: the inlets of streaming ingestion. A connection belongs to one sandbox, writes to an
 * event dataset and/or a profile dataset, and carries its own secret (shown once; only its SHA-256 is kept),
 * sent as `Authorization: Bearer` on the collection endpoints or as the Segment write key. The secret names its
 * connection (`rtc_<id>_<secret>`), so a write key alone finds the connection, as Segment clients expect.
 *
 * Requests authenticate against a short-lived cache of the connection, its datasets and their compiled record
 * checkers, so the hot path reads no metadata; a revoke here drops the cache entry at once, elsewhere within
 * `CACHE_TTL_MS`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../../access/audit.ts';
import type { Principal } from '../../access/principal.ts';
import type { Datasets } from '../../catalog/datasets.ts';
import type { SchemaRegistry } from '../../catalog/schema-registry.ts';
import { isoNow, type Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import { newSecret } from '../../core/ids.ts';
import type { DatasetRecord, MetadataStore, StreamingConnectionRecord, XdmClassId } from '../../ports/metadata-store.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import type { RecordChecker } from '../record-checks.ts';
import type { ConnectionInput, ConnectionViewT, IdentityNamespacesT } from './payloads.ts';

export type ConnectionKind = 'xdm' | 'segment';
export type TargetRole = 'event' | 'profile';

/** A dataset a connection writes to, ready for the hot path. */
export interface Target {
  role: TargetRole;
  dataset: DatasetRecord;
  checker: RecordChecker;
  /** Schema ids a collection header may name to pick this dataset. */
  schemaRefs: string[];
}

export interface LiveConnection {
  id: string;
  sandbox: string;
  kind: ConnectionKind;
  targets: Partial<Record<TargetRole, Target>>;
  identities: IdentityNamespacesT;
}

interface Loaded {
  record: StreamingConnectionRecord;
  live: LiveConnection;
}

/** What the `datasets` JSON column of a connection holds. */
interface StoredTargets {
  event?: string;
  profile?: string;
  identities?: IdentityNamespacesT;
}

/** Segment field groups a dataset's schema needs before a Segment connection may write to it. */
export const SEGMENT_FIELD_GROUPS: Record<TargetRole, string> = { event: 'segment-event', profile: 'segment-profile' };
export const DEFAULT_IDENTITIES: IdentityNamespacesT = { userId: 'CRMID', anonymousId: 'ECID' };

const TOKEN = /^rtc_([0-9a-f]{16})_([A-Za-z0-9_-]{32})$/;
const CACHE_TTL_MS = 5_000;

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');
const storedTargets = (record: StreamingConnectionRecord): StoredTargets => (record.datasets ?? {}) as StoredTargets;

export function connectionView(record: StreamingConnectionRecord): ConnectionViewT {
  const stored = storedTargets(record);
  return {
    id: record.id,
    sandbox: record.sandbox,
    name: record.name,
    kind: record.kind,
    datasets: { ...(stored.event && { event: stored.event }), ...(stored.profile && { profile: stored.profile }) },
    ...(stored.identities && { identities: stored.identities }),
    endpoint: record.kind === 'segment' ? '/v1/batch' : `/collection/${record.id}`,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    revokedAt: record.revokedAt,
  };
}

function invalid(message: string): RoundtripError {
  return new RoundtripError('RT_STREAM_CONNECTION_INVALID', message);
}

export class StreamingConnections {
  private readonly cache = new Map<string, { loaded: Promise<Loaded | undefined>; expires: number }>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly datasets: Datasets,
    private readonly registry: SchemaRegistry,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Creates a connection; the returned `secret` is the only time it is visible. */
  async create(actor: Principal, sandbox: string, input: ConnectionInput): Promise<{ connection: ConnectionViewT; secret: string }> {
    const kind: ConnectionKind = input.kind ?? 'xdm';
    const targets = await this.resolveTargets(sandbox, input, kind);
    const id = randomBytes(8).toString('hex');
    const secret = newSecret(24);
    const record: StreamingConnectionRecord = {
      sandbox,
      id: `sc_${id}`,
      name: input.name,
      kind,
      datasets: targets as unknown as JsonValue,
      secretHash: hash(secret),
      createdBy: actor.id,
      createdAt: isoNow(this.clock),
      revokedAt: null,
    };
    await this.metadata.streamingConnections.create(record);
    await this.audit.record(actor, { sandbox, action: 'streaming.create', resourceType: 'streaming-connection', resourceId: record.id, details: { kind, ...targets } });
    return { connection: connectionView(record), secret: `rtc_${id}_${secret}` };
  }

  async list(sandbox: string): Promise<ConnectionViewT[]> {
    return (await this.metadata.streamingConnections.list(sandbox)).map(connectionView);
  }

  async get(sandbox: string, id: string): Promise<ConnectionViewT> {
    return connectionView(await this.record(sandbox, id));
  }

  async revoke(actor: Principal, sandbox: string, id: string): Promise<ConnectionViewT> {
    await this.record(sandbox, id);
    await this.metadata.streamingConnections.revoke(id, isoNow(this.clock));
    this.cache.delete(id);
    await this.audit.record(actor, { sandbox, action: 'streaming.revoke', resourceType: 'streaming-connection', resourceId: id });
    return this.get(sandbox, id);
  }

  /**
   * The connection a secret opens. `connectionId` (from the URL) must be the one the secret names; the kind
   * must match the endpoint family. Throws RT_AUTH_INVALID for a wrong, malformed or revoked secret.
   */
  async authenticate(secret: string, expected: { kind: ConnectionKind; connectionId?: string }): Promise<LiveConnection> {
    const match = TOKEN.exec(secret);
    const id = match ? `sc_${match[1]}` : undefined;
    if (expected.connectionId !== undefined && id !== expected.connectionId) {
      if (!(await this.metadata.streamingConnections.get(expected.connectionId))) {
        throw new RoundtripError('RT_STREAM_CONNECTION_NOT_FOUND', `No streaming connection has id "${expected.connectionId}".`);
      }
      throw new RoundtripError('RT_AUTH_INVALID', 'The secret does not belong to this streaming connection.');
    }
    const loaded = id ? await this.loaded(id) : undefined;
    const expectedHash = Buffer.from(loaded?.record.secretHash ?? '0'.repeat(64), 'hex');
    const matches = timingSafeEqual(expectedHash, Buffer.from(hash(match?.[2] ?? ''), 'hex'));
    if (!matches || !loaded || loaded.record.revokedAt !== null) throw new RoundtripError('RT_AUTH_INVALID', 'The streaming secret (write key) is unknown, malformed or revoked.');
    const { live } = loaded;
    if (live.kind !== expected.kind) {
      const endpoints = live.kind === 'segment' ? '/v1/*' : `/collection/${live.id}`;
      throw new RoundtripError('RT_STREAM_CONNECTION_KIND', `Connection ${live.id} is a ${live.kind} connection; send to ${endpoints}.`);
    }
    return live;
  }

  /** The cached connection; unknown ids are not cached, so guessing ids cannot grow the cache. */
  private loaded(id: string): Promise<Loaded | undefined> {
    const now = this.clock.now().getTime();
    let entry = this.cache.get(id);
    if (!entry || entry.expires < now) {
      const loading = this.load(id);
      entry = { loaded: loading, expires: now + CACHE_TTL_MS };
      this.cache.set(id, entry);
      loading.then((found) => found ?? this.cache.delete(id)).catch(() => this.cache.delete(id));
    }
    return entry.loaded;
  }

  private async load(id: string): Promise<Loaded | undefined> {
    const record = await this.metadata.streamingConnections.get(id);
    if (!record) return undefined;
    const stored = storedTargets(record);
    const targets: Partial<Record<TargetRole, Target>> = {};
    for (const role of ['event', 'profile'] as const) {
      const datasetId = stored[role];
      if (datasetId) targets[role] = await this.target(record.sandbox, role, datasetId);
    }
    return { record, live: { id, sandbox: record.sandbox, kind: record.kind as ConnectionKind, targets, identities: stored.identities ?? DEFAULT_IDENTITIES } };
  }

  private async target(sandbox: string, role: TargetRole, datasetId: string): Promise<Target> {
    const dataset = await this.datasets.get(sandbox, datasetId);
    return { role, dataset, checker: await this.datasets.checker(sandbox, dataset), schemaRefs: [dataset.schemaId, `https://ns.roundtrip.dev/${sandbox}/schemas/${dataset.schemaId}`] };
  }

  private async record(sandbox: string, id: string): Promise<StreamingConnectionRecord> {
    const record = await this.metadata.streamingConnections.get(id);
    if (!record || record.sandbox !== sandbox) throw new RoundtripError('RT_STREAM_CONNECTION_NOT_FOUND', `No streaming connection "${id}" in sandbox ${sandbox}.`);
    return record;
  }

  private async classOf(sandbox: string, dataset: DatasetRecord): Promise<{ classId: XdmClassId; fieldGroups: string[] }> {
    const schema = await this.registry.getResolved(sandbox, dataset.schemaId, dataset.schemaVersion);
    return { classId: schema['meta:class'], fieldGroups: schema['meta:fieldGroups'] };
  }

  /** Checks the datasets (one per class) and, for Segment, their field groups and identity namespaces. */
  private async resolveTargets(sandbox: string, input: ConnectionInput, kind: ConnectionKind): Promise<StoredTargets> {
    const out: StoredTargets = {};
    for (const ref of [input.dataset, input.profileDataset].filter((r): r is string => r !== undefined)) {
      const dataset = await this.datasets.get(sandbox, ref);
      const { classId, fieldGroups } = await this.classOf(sandbox, dataset);
      if (classId !== 'experienceevent' && classId !== 'profile') throw invalid(`Dataset "${dataset.name}" is an ${classId} dataset; streaming writes ExperienceEvent and profile datasets.`);
      const role: TargetRole = classId === 'experienceevent' ? 'event' : 'profile';
      if (out[role]) throw invalid(`Both datasets are ${classId} datasets; give one ExperienceEvent dataset and one profile dataset.`);
      if (ref === input.profileDataset && role !== 'profile') throw invalid(`--profile-dataset "${ref}" is not a profile dataset.`);
      if (kind === 'segment' && !fieldGroups.includes(SEGMENT_FIELD_GROUPS[role])) {
        throw invalid(`Dataset "${dataset.name}" lacks the ${SEGMENT_FIELD_GROUPS[role]} field group; \`roundtrip streaming segment-setup\` creates matching datasets.`);
      }
      out[role] = dataset.id;
    }
    if (kind === 'segment') {
      if (!out.event || !out.profile) throw invalid('A Segment connection needs an ExperienceEvent dataset (track, page, screen, group, alias) and a profile dataset (identify).');
      const identities = { ...DEFAULT_IDENTITIES, ...input.identities };
      for (const code of Object.values(identities)) await this.registry.getNamespace(sandbox, code);
      out.identities = identities;
    } else if (input.identities) {
      throw invalid('Identity namespaces are only configurable on Segment connections.');
    }
    return out;
  }
}

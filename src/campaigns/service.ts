/**
 * Campaigns: definition, send and the `campaign.send` job.
 *
 * A campaign names an audience (segment id + merge policy), an SMTP destination, a subject and HTML template,
 * an optional send time and an optional holdout share. Sending walks the audience's realized members in
 * profile-id order, in chunks: each member is held out (hash of campaign and profile, `holdout.ts`), suppressed
 * (email consent `n`), skipped (no address) or rendered and handed to SMTP; every member gets a ledger row in
 * `_rt_campaign_messages` and every message an `emailSent` event plus `emailDelivered` (accepted by the SMTP
 * server) or `emailBounced` (refused). Members already in the ledger are skipped, so a send that stopped
 * (transport failure, crash, restart) resumes where it was without mailing anyone twice — at most the
 * messages of the chunk in flight at a crash can be lost, never duplicated.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../access/audit.ts';
import { authorize, type Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { profileColumns } from '../activation/exporter.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import type { JobKind } from '../platform/jobs.ts';
import type { DocumentRecord, MergePolicyRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { ColumnSpec, JsonRecord, JsonValue, SandboxWarehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ProfileStore } from '../profile/profile-store.ts';
import { syncConsent } from './consent.ts';
import { emailEvent, type EventInput } from './events.ts';
import { isHeldOut } from './holdout.ts';
import type { CampaignInputT, CampaignStatusT, CampaignViewT, SendResultT, SendTotalsT, SmtpInputT } from './payloads.ts';
import type { CampaignKeys } from './secrets.ts';
import { openMailer, type Mailer, type SmtpSettings } from './smtp.ts';
import { CAMPAIGN_KIND, CAMPAIGN_SYSTEM, LEDGER, type CampaignStore } from './store.ts';
import { checkTemplate, renderMessage } from './template.ts';
import { signToken } from './tokens.ts';

/** What a campaign document stores (credentials sealed). */
export interface CampaignDoc {
  name: string;
  audience: { segmentId: string; mergePolicyId: string | null };
  smtp: Omit<CampaignViewT['smtp'], 'hasPassword'> & { passwordSealed: string | null };
  subject: string;
  html: string;
  defaultValue: string;
  links: string[];
  sendAt: string | null;
  holdoutShare: number;
  trackingBaseUrl: string;
  attributionDays: number;
  status: CampaignStatusT;
  lastSend: CampaignViewT['lastSend'];
  createdBy: string;
}

export interface CampaignRecord {
  id: string;
  doc: CampaignDoc;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface CampaignDeps {
  metadata: MetadataStore;
  store: CampaignStore;
  identity: IdentityGraph;
  mergePolicies: MergePolicies;
  profileStore: ProfileStore;
  audit: AuditLog;
  clock: Clock;
  keys: CampaignKeys;
  tenantKey: string;
  /** Default public URL of the server for tracking links. */
  publicUrl: string;
  /** Members per chunk (ledger write + event entry); smaller in tests. */
  chunkSize?: number;
  /**
   * Hook for `src/destinations/`: resolves an SMTP destination account (type `smtp`) to settings, so a
   * campaign can name an account instead of inline settings once destinations publish one.
   */
  resolveSmtpAccount?: (sandbox: string, accountId: string) => Promise<SmtpSettings & { from: string }>;
}

/** A sending run still marked `sending` after this long is taken to have died (process stopped mid-send). */
const STALE_SEND_MS = 30 * 60 * 1000;
const zeroTotals = (): SendTotalsT => ({ recipients: 0, sent: 0, bounced: 0, heldOut: 0, suppressed: 0, noAddress: 0 });

interface Recipient {
  profileId: number;
  email: string | null;
  consent: string | null;
  decile: number | null;
  predictedClv: number | null;
  profile: Record<string, unknown>;
}

interface LedgerRow {
  messageId: string;
  profileId: number;
  email: string | null;
  holdout: boolean;
  /** Would be mailed if not held out (has an address, consent not n): treated and holdout are compared on these. */
  eligible: boolean;
  status: 'held_out' | 'suppressed' | 'no_address' | 'sent' | 'bounced';
  smtpResponse: string | null;
  decile: number | null;
  predictedClv: number | null;
  at: string;
}

/** The SQL path of a nested field when the table has it (struct fields walked), else undefined. */
export function columnPath(columns: readonly ColumnSpec[], path: readonly string[]): string | undefined {
  let fields: readonly ColumnSpec[] = columns;
  for (const [i, name] of path.entries()) {
    const column = fields.find((f) => f.name === name);
    if (!column) return undefined;
    if (i < path.length - 1) {
      if (column.type.kind !== 'struct') return undefined;
      fields = column.type.fields;
    }
  }
  return path.map((p) => quoteIdent(p)).join('.');
}

function invalid(message: string, details?: JsonValue): RoundtripError {
  return new RoundtripError('RT_CAMPAIGN_INVALID', message, details);
}

export class CampaignService {
  constructor(private readonly deps: CampaignDeps) {}

  // ---- definitions ------------------------------------------------------------------------------------------

  private sealPassword(sandbox: string, id: string, password: string | undefined, previous: string | null): string | null {
    if (password === undefined) return previous;
    return this.deps.keys.box.seal(password, `${sandbox}/campaign/${id}`);
  }

  private docFrom(sandbox: string, id: string, input: CampaignInputT, actor: Principal, previous?: CampaignDoc): CampaignDoc {
    const links = checkTemplate(input.subject, input.html);
    const smtp: SmtpInputT = input.smtp;
    if (smtp.password && !smtp.user) throw invalid('An SMTP password needs a user.');
    const sendAt = input.sendAt ?? null;
    if (sendAt !== null && Number.isNaN(Date.parse(sendAt))) throw invalid(`sendAt is not a date-time: ${sendAt}`);
    return {
      name: input.name,
      audience: { segmentId: input.audience.segmentId, mergePolicyId: input.audience.mergePolicyId ?? null },
      smtp: {
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure ?? false,
        requireTLS: smtp.requireTLS ?? false,
        rejectUnauthorized: smtp.rejectUnauthorized ?? true,
        user: smtp.user ?? null,
        passwordSealed: smtp.user ? this.sealPassword(sandbox, id, smtp.password, previous?.smtp.user === smtp.user ? previous.smtp.passwordSealed : null) : null,
        from: smtp.from,
        replyTo: smtp.replyTo ?? null,
        ratePerSecond: smtp.ratePerSecond ?? 50,
        maxConnections: smtp.maxConnections ?? 3,
      },
      subject: input.subject,
      html: input.html,
      defaultValue: input.defaultValue ?? '',
      links,
      sendAt,
      holdoutShare: input.holdoutShare ?? 0,
      trackingBaseUrl: (input.trackingBaseUrl ?? this.deps.publicUrl).replace(/\/+$/, ''),
      attributionDays: input.attributionDays ?? 7,
      status: previous?.status === 'sent' ? 'sent' : sendAt ? 'scheduled' : 'draft',
      lastSend: previous?.lastSend ?? null,
      createdBy: previous?.createdBy ?? actor.id,
    };
  }

  view(record: CampaignRecord): CampaignViewT {
    const { doc } = record;
    const { passwordSealed, ...smtp } = doc.smtp;
    return {
      id: record.id,
      name: doc.name,
      audience: doc.audience,
      smtp: { ...smtp, hasPassword: passwordSealed !== null },
      subject: doc.subject,
      html: doc.html,
      defaultValue: doc.defaultValue,
      links: doc.links,
      sendAt: doc.sendAt,
      holdoutShare: doc.holdoutShare,
      trackingBaseUrl: doc.trackingBaseUrl,
      attributionDays: doc.attributionDays,
      status: doc.status,
      lastSend: doc.lastSend,
      version: record.version,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      createdBy: doc.createdBy,
    };
  }

  private record(doc: DocumentRecord<JsonValue>): CampaignRecord {
    return { id: doc.id, doc: doc.body as unknown as CampaignDoc, version: doc.version, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
  }

  async create(actor: Principal, sandbox: string, input: CampaignInputT): Promise<CampaignRecord> {
    authorize(actor, 'activation:write', sandbox);
    const id = newId('cmp');
    const doc = this.docFrom(sandbox, id, input, actor);
    const now = isoNow(this.deps.clock);
    const created = await this.deps.metadata.documents.create({ sandbox, kind: CAMPAIGN_KIND, id, parentId: null, body: doc as unknown as JsonValue, createdAt: now, updatedAt: now });
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.create', resourceType: 'campaign', resourceId: id, details: { name: doc.name, segmentId: doc.audience.segmentId } });
    return this.record(created);
  }

  async get(sandbox: string, id: string): Promise<CampaignRecord> {
    const doc = await this.deps.metadata.documents.get(sandbox, CAMPAIGN_KIND, id);
    if (!doc) throw new RoundtripError('RT_CAMPAIGN_NOT_FOUND', `No campaign "${id}" in sandbox ${sandbox}.`, { id });
    return this.record(doc);
  }

  async list(sandbox: string): Promise<CampaignRecord[]> {
    return (await this.deps.metadata.documents.list(sandbox, CAMPAIGN_KIND)).map((d) => this.record(d));
  }

  async update(actor: Principal, sandbox: string, id: string, input: CampaignInputT, expectedVersion?: number): Promise<CampaignRecord> {
    authorize(actor, 'activation:write', sandbox);
    const current = await this.get(sandbox, id);
    if (current.doc.status === 'sending' || current.doc.status === 'sent') {
      throw new RoundtripError('RT_CAMPAIGN_STATE', `Campaign ${id} is ${current.doc.status}; a sent campaign is not changed (its links and holdout are what its results refer to). Copy it instead.`);
    }
    const doc = this.docFrom(sandbox, id, input, actor, current.doc);
    const updated = await this.saveDoc(sandbox, id, doc, expectedVersion ?? current.version);
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.update', resourceType: 'campaign', resourceId: id });
    return updated;
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    authorize(actor, 'activation:write', sandbox);
    const current = await this.get(sandbox, id);
    if (current.doc.status === 'sending') throw new RoundtripError('RT_CAMPAIGN_STATE', `Campaign ${id} is sending; wait until it is done.`);
    await this.deps.metadata.documents.delete(sandbox, CAMPAIGN_KIND, id);
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.delete', resourceType: 'campaign', resourceId: id });
  }

  private async saveDoc(sandbox: string, id: string, doc: CampaignDoc, expectedVersion: number): Promise<CampaignRecord> {
    const updated = await this.deps.metadata.documents.update(sandbox, CAMPAIGN_KIND, id, doc as unknown as JsonValue, { updatedAt: isoNow(this.deps.clock), expectedVersion });
    if (!updated) throw new RoundtripError('RT_CAMPAIGN_NOT_FOUND', `No campaign "${id}" in sandbox ${sandbox}.`, { id });
    return this.record(updated);
  }

  // ---- sending ----------------------------------------------------------------------------------------------

  private smtpSettings(sandbox: string, record: CampaignRecord): SmtpSettings {
    const { smtp } = record.doc;
    const password = smtp.passwordSealed ? this.deps.keys.box.open(smtp.passwordSealed, `${sandbox}/campaign/${record.id}`) : null;
    return { host: smtp.host, port: smtp.port, secure: smtp.secure, requireTLS: smtp.requireTLS, rejectUnauthorized: smtp.rejectUnauthorized, user: smtp.user, password, ratePerSecond: smtp.ratePerSecond, maxConnections: smtp.maxConnections };
  }

  /** Sends the campaign now (or resumes it); `campaign.send` calls it for due campaigns. */
  async send(actor: Principal, sandbox: string, id: string): Promise<SendResultT> {
    authorize(actor, 'activation:write', sandbox);
    let record = await this.get(sandbox, id);
    const stale = record.doc.status === 'sending' && Date.now() - Date.parse(record.doc.lastSend?.startedAt ?? record.updatedAt) > STALE_SEND_MS;
    if (record.doc.status === 'sending' && !stale) throw new RoundtripError('RT_CAMPAIGN_STATE', `Campaign ${id} is being sent already.`);
    const startedAt = isoNow(this.deps.clock);
    // Compare-and-set: of two concurrent sends, one gets the campaign and the other RT_DOCUMENT_CONFLICT.
    record = await this.saveDoc(sandbox, id, { ...record.doc, status: 'sending', lastSend: { startedAt, endedAt: null, totals: zeroTotals(), error: null } }, record.version);
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.send', resourceType: 'campaign', resourceId: id });
    const totals = zeroTotals();
    let error: string | null = null;
    try {
      await this.runSend(sandbox, record, totals);
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure);
    }
    const status: CampaignStatusT = error ? 'failed' : 'sent';
    const latest = await this.get(sandbox, id);
    await this.saveDoc(sandbox, id, { ...latest.doc, status, lastSend: { startedAt, endedAt: isoNow(this.deps.clock), totals, error } }, latest.version);
    if (error) throw new RoundtripError('RT_CAMPAIGN_SEND_FAILED', `Campaign ${id} stopped: ${error}. Sending it again resumes with the members not yet handled.`, { totals: totals as unknown as JsonValue });
    return { campaignId: id, status, totals };
  }

  private async policy(sandbox: string, doc: CampaignDoc): Promise<MergePolicyRecord> {
    return this.deps.mergePolicies.resolve(sandbox, doc.audience.mergePolicyId ?? undefined);
  }

  private async runSend(sandbox: string, record: CampaignRecord, totals: SendTotalsT): Promise<void> {
    const { store } = this.deps;
    const warehouse = await store.warehouseOf(sandbox);
    await store.setup(sandbox);
    // Unsubscribes reported by an ESP or a file since the last run become consent before anyone is mailed.
    await syncConsent(store, sandbox, this.deps.tenantKey);
    await store.flush();
    await this.deps.identity.sync(sandbox);
    await this.deps.profileStore.ensureCurrent(sandbox);
    await ensureMembershipTables(warehouse);
    const policy = await this.policy(sandbox, record.doc);
    if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return;
    const select = await this.recipientSql(warehouse, policy);
    const mailer = openMailer(this.smtpSettings(sandbox, record));
    try {
      let after = -1;
      const chunk = this.deps.chunkSize ?? 500;
      for (;;) {
        const rows = (
          await warehouse.query(`${select} AND m.profile_id > ${after} ORDER BY m.profile_id LIMIT ${chunk}`, {
            segment: record.doc.audience.segmentId,
            policy: policy.id,
            campaign: record.id,
          })
        ).rows;
        if (rows.length === 0) break;
        after = Number(rows[rows.length - 1]!.profile_id);
        await this.sendChunk(sandbox, warehouse, record, policy, rows.map(recipientOf), mailer, totals);
      }
    } finally {
      mailer.close();
    }
  }

  /** Members of the audience not yet in the ledger, with address, consent and CLV from the profile table. */
  private async recipientSql(warehouse: SandboxWarehouse, policy: MergePolicyRecord): Promise<string> {
    const columns = await profileColumns(warehouse, policy.snapshotTable);
    const tenant = this.deps.tenantKey;
    const at = (path: string[]) => {
      const sql = columnPath(columns, path);
      return sql ? `p.${sql}` : 'NULL';
    };
    const personal = at(['personalEmail', 'address']);
    const email = `coalesce(${personal === 'NULL' ? 'NULL::VARCHAR' : personal}, list_filter(p.identities, x -> x.namespace = 'Email')[1].id)`;
    return `SELECT m.profile_id, ${email} AS _rt_email, ${at(['consents', 'marketing', 'email', 'val'])} AS _rt_consent,
        ${at([tenant, 'clvPrediction', 'clvDecile'])} AS _rt_decile, ${at([tenant, 'clvPrediction', 'predictedClv'])} AS _rt_clv, p.*
      FROM ${MEMBERSHIP_TABLE} m JOIN ${quoteIdent(policy.snapshotTable)} p ON p.profile_id = m.profile_id
      WHERE m.segment_id = $segment AND m.merge_policy_id = $policy AND m.status = 'realized'
        AND NOT EXISTS (SELECT 1 FROM ${LEDGER} l WHERE l.campaign_id = $campaign AND l.profile_id = m.profile_id)`;
  }

  private async sendChunk(sandbox: string, warehouse: SandboxWarehouse, record: CampaignRecord, policy: MergePolicyRecord, recipients: Recipient[], mailer: Mailer, totals: SendTotalsT): Promise<void> {
    const { doc } = record;
    const ledger: LedgerRow[] = [];
    const events: JsonRecord[] = [];
    const base = { campaignId: record.id, campaignName: doc.name, audienceId: doc.audience.segmentId, source: 'roundtrip' as const };
    const pending: Promise<void>[] = [];
    const failure: { transport: string | null } = { transport: null };
    for (const r of recipients) {
      totals.recipients++;
      const messageId = randomBytes(16).toString('hex');
      const eligible = r.email !== null && r.consent !== 'n';
      const row: LedgerRow = { messageId, profileId: r.profileId, email: r.email, holdout: false, eligible, status: 'sent', smtpResponse: null, decile: r.decile, predictedClv: r.predictedClv, at: isoNow(this.deps.clock) };
      if (isHeldOut(record.id, r.profileId, doc.holdoutShare)) {
        ledger.push({ ...row, holdout: true, status: 'held_out' });
        totals.heldOut++;
        continue;
      }
      if (!r.email) {
        ledger.push({ ...row, status: 'no_address' });
        totals.noAddress++;
        continue;
      }
      if (r.consent === 'n') {
        ledger.push({ ...row, status: 'suppressed' });
        totals.suppressed++;
        continue;
      }
      const email = r.email;
      const token = (kind: 'o' | 'c' | 'u', link?: number) => signToken(this.deps.keys.tracking, { sandbox, campaignId: record.id, messageId, kind, ...(link === undefined ? {} : { link }) });
      const unsubscribe = `${doc.trackingBaseUrl}/t/u/${token('u')}`;
      const rendered = renderMessage({ subject: doc.subject, html: doc.html, links: doc.links, defaultValue: doc.defaultValue }, r.profile, {
        open: `${doc.trackingBaseUrl}/t/o/${token('o')}.gif`,
        click: (i) => `${doc.trackingBaseUrl}/t/c/${token('c', i)}`,
        unsubscribe,
      });
      pending.push(
        mailer
          .send({
            from: doc.smtp.from,
            replyTo: doc.smtp.replyTo,
            to: email,
            subject: rendered.subject,
            html: rendered.html,
            messageId: `<${messageId}@roundtrip>`,
            headers: {
              'List-Unsubscribe': `<${unsubscribe}>`,
              'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
              'X-Roundtrip-Campaign': record.id,
              'X-Roundtrip-Message': messageId,
            },
          })
          .then((outcome) => {
            const at = isoNow(this.deps.clock);
            const event = (kind: EventInput['kind'], extra: Partial<EventInput> = {}) => emailEvent(this.deps.tenantKey, { ...base, kind, id: `${messageId}:${kind}`, timestamp: at, email, messageId, ...extra });
            if (outcome.kind === 'transport') {
              failure.transport ??= outcome.error;
              return;
            }
            events.push(event('sent'));
            if (outcome.kind === 'accepted') {
              ledger.push({ ...row, at, smtpResponse: outcome.response.slice(0, 500) });
              events.push(event('delivered'));
              totals.sent++;
            } else {
              ledger.push({ ...row, at, status: 'bounced', smtpResponse: outcome.response.slice(0, 500) });
              events.push(event('bounced', { bounceCode: outcome.code }));
              totals.bounced++;
            }
          }),
      );
    }
    await Promise.all(pending);
    await this.writeLedger(warehouse, record, policy, ledger);
    await this.deps.store.write(sandbox, events);
    if (failure.transport) throw new Error(`SMTP transport failure: ${failure.transport}`);
  }

  private async writeLedger(warehouse: SandboxWarehouse, record: CampaignRecord, policy: MergePolicyRecord, rows: LedgerRow[]): Promise<void> {
    if (rows.length === 0) return;
    const n = (v: number | null) => (v === null || !Number.isFinite(v) ? 'NULL' : String(v));
    const s = (v: string | null) => (v === null ? 'NULL' : quoteLiteral(v));
    const values = rows.map(
      (r) =>
        `(${s(record.id)}, ${s(r.messageId)}, ${Math.trunc(r.profileId)}, ${s(policy.id)}, ${s(record.doc.audience.segmentId)}, ${s(r.email)}, ${r.holdout}, ${r.eligible}, ${s(r.status)}, ${s(r.smtpResponse)}, ${n(r.decile)}, ${n(r.predictedClv)}, ${s(r.at)}::TIMESTAMPTZ)`,
    );
    await warehouse.query(`INSERT INTO ${LEDGER} VALUES ${values.join(',\n')}`);
  }

  // ---- schedule ---------------------------------------------------------------------------------------------

  /** Campaigns whose send time has come and that were not sent yet. */
  async due(sandbox: string, at: string): Promise<CampaignRecord[]> {
    return (await this.list(sandbox)).filter((c) => c.doc.status === 'scheduled' && c.doc.sendAt !== null && Date.parse(c.doc.sendAt) <= Date.parse(at));
  }

  jobKinds(): JobKind[] {
    return [
      {
        kind: 'campaign.send',
        description: 'Send campaigns whose send time has come (params: campaignId to send one now)',
        validate: (params) => {
          if (params.campaignId !== undefined && typeof params.campaignId !== 'string') throw invalid('campaign.send: campaignId must be a string.');
        },
        run: async ({ principal, sandbox, params, scheduledFor }) => {
          const ids = typeof params.campaignId === 'string' ? [params.campaignId] : (await this.due(sandbox, scheduledFor)).map((c) => c.id);
          let sent = 0;
          for (const id of ids) sent += (await this.send(principal, sandbox, id)).totals.sent;
          return { rowCount: sent, message: ids.length ? `sent ${ids.join(', ')}` : 'no campaign due' };
        },
      },
    ];
  }

  /** For the tracking routes: the campaign of a verified token (no authorization: the token is the proof). */
  async forTracking(sandbox: string, id: string): Promise<CampaignRecord | undefined> {
    const doc = await this.deps.metadata.documents.get(sandbox, CAMPAIGN_KIND, id);
    return doc ? this.record(doc) : undefined;
  }

  static readonly system = CAMPAIGN_SYSTEM;
}

function recipientOf(row: JsonRecord): Recipient {
  const { _rt_email: email, _rt_consent: consent, _rt_decile: decile, _rt_clv: clv, ...profile } = row;
  return {
    profileId: Number(row.profile_id),
    email: typeof email === 'string' && email.includes('@') ? email : null,
    consent: typeof consent === 'string' ? consent : null,
    decile: decile === null || decile === undefined ? null : Number(decile),
    predictedClv: clv === null || clv === undefined ? null : Number(clv),
    profile,
  };
}

/**
 * Campaigns: definition, send and the `campaign.send` job.
 *
 * A campaign names an audience (segment id + merge policy), an SMTP destination, a subject and HTML template,
 * an optional send time and an optional holdout share. A send runs in the background (`start` answers with a
 * send id at once; `GET /campaigns/{id}` shows `lastSend` with its progress): it walks the audience's realized
 * members in profile-id order, in chunks; each member is held out (hash of campaign and profile,
 * `holdout.ts`), suppressed (email consent `n`), skipped (no address) or rendered and handed to SMTP.
 *
 * Crash safety, per message **at most once**: the ledger row (`_rt_campaign_messages`) is written with status
 * `sending` *before* the SMTP transaction; after it, the events (`emailSent` + `emailDelivered` or
 * `emailBounced`) are made durable through the streaming log, then the row becomes `sent` or `bounced`. Members
 * with a ledger row are never mailed again, so a send that stopped (transport failure, crash, restart)
 * resumes with the others. A resumed send first resolves the rows left `sending`: when the message's delivery
 * or bounce event is in the tracking dataset the row takes that outcome, otherwise it becomes `unconfirmed` —
 * the server may or may not have accepted it, and mailing it again could mail someone twice. A message whose
 * SMTP transaction failed before anything was transmitted (connection refused, DNS, TLS, authentication) loses
 * its `sending` row, so the resumed send tries it again.
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
import type { CampaignInputT, CampaignStatusT, CampaignViewT, SendAcceptedT, SendResultT, SendTotalsT, SmtpInputT } from './payloads.ts';
import type { CampaignKeys } from './secrets.ts';
import { openMailer, type Mailer, type OutgoingMessage, type SendOutcome, type SmtpSettings } from './smtp.ts';
import { CAMPAIGN_KIND, CAMPAIGN_SYSTEM, LEDGER, type CampaignStore } from './store.ts';
import { quoteIdent as q } from '../identity/sql.ts';
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
  /**
   * Test hook: called after a chunk's SMTP transactions (`smtp-done`) and after its events are durable
   * (`events-written`) with the messages handed to SMTP so far in this run; throwing `SendAbandoned` stops the
   * send as a process crash would (nothing more recorded, the campaign left `sending`).
   */
  beforeRecord?: (stage: 'smtp-done' | 'events-written', messages: number) => void;
}

/** Thrown by a test hook to stop a send the way a dead process would: no bookkeeping at all. */
export class SendAbandoned extends Error {}

const zeroTotals = (): SendTotalsT => ({ recipients: 0, sent: 0, bounced: 0, heldOut: 0, suppressed: 0, noAddress: 0, unconfirmed: 0, sending: 0 });
const TOTAL_OF_STATUS: Record<string, keyof SendTotalsT> = { sent: 'sent', bounced: 'bounced', held_out: 'heldOut', suppressed: 'suppressed', no_address: 'noAddress', unconfirmed: 'unconfirmed', sending: 'sending' };

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
  status: 'held_out' | 'suppressed' | 'no_address' | 'sending' | 'sent' | 'bounced';
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
  /** Sends running in this instance (`sandbox/campaignId`); a `sending` campaign not in here is orphaned. */
  private readonly active = new Map<string, Promise<SendResultT>>();

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

  /**
   * Starts sending the campaign (or resumes it) in the background and answers at once. A campaign marked
   * `sending` that no send of this instance runs is orphaned — its process died, since one process owns a
   * sandbox's warehouse — and is resumed.
   */
  async start(actor: Principal, sandbox: string, id: string): Promise<SendAcceptedT> {
    return (await this.begin(actor, sandbox, id)).accepted;
  }

  private async begin(actor: Principal, sandbox: string, id: string): Promise<{ accepted: SendAcceptedT; run: Promise<SendResultT> }> {
    authorize(actor, 'activation:write', sandbox);
    const key = `${sandbox}/${id}`;
    let record = await this.get(sandbox, id);
    if (this.active.has(key)) throw new RoundtripError('RT_CAMPAIGN_STATE', `Campaign ${id} is being sent already (send ${record.doc.lastSend?.sendId ?? '?'}).`);
    const resumedFrom = record.doc.status === 'sending' || record.doc.status === 'failed' ? (record.doc.lastSend?.sendId ?? null) : null;
    const sendId = newId('snd');
    const lastSend = { sendId, resumedFrom, startedAt: isoNow(this.deps.clock), endedAt: null, totals: record.doc.lastSend?.totals ?? zeroTotals(), progress: { audience: null, handled: 0 }, error: null };
    // Compare-and-set: of two concurrent starts, one gets the campaign and the other RT_DOCUMENT_CONFLICT.
    record = await this.saveDoc(sandbox, id, { ...record.doc, status: 'sending', lastSend }, record.version);
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.send', resourceType: 'campaign', resourceId: id, details: { sendId, resumedFrom } });
    const run = this.execute(sandbox, record, sendId).finally(() => this.active.delete(key));
    run.catch(() => undefined); // The campaign document carries the outcome; `wait` reports it to who asks.
    this.active.set(key, run);
    return { accepted: { campaignId: id, sendId, status: 'sending', resumedFrom }, run };
  }

  /** Waits for the campaign's running send, if any, and returns its outcome. */
  async wait(sandbox: string, id: string): Promise<SendResultT | undefined> {
    return this.active.get(`${sandbox}/${id}`);
  }

  /** Sends the campaign and waits for the outcome (the `campaign.send` job; scripts). */
  async send(actor: Principal, sandbox: string, id: string): Promise<SendResultT> {
    return (await this.begin(actor, sandbox, id)).run;
  }

  /** Resolves once every send running in this instance has ended (before the warehouse closes). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.active.values()]);
  }

  /** Runs a started send to its end; the campaign document records the outcome either way. */
  private async execute(sandbox: string, record: CampaignRecord, sendId: string): Promise<SendResultT> {
    const id = record.id;
    let error: string | null = null;
    try {
      await this.runSend(sandbox, record, sendId);
    } catch (failure) {
      if (failure instanceof SendAbandoned) throw failure;
      error = failure instanceof Error ? failure.message : String(failure);
    }
    const status: CampaignStatusT = error ? 'failed' : 'sent';
    const totals = await this.ledgerTotals(sandbox, id);
    await this.updateSend(sandbox, id, sendId, (doc) => ({ ...doc, status, lastSend: { ...doc.lastSend!, endedAt: isoNow(this.deps.clock), totals, progress: { ...doc.lastSend!.progress, handled: totals.recipients }, error } }));
    if (error) throw new RoundtripError('RT_CAMPAIGN_SEND_FAILED', `Campaign ${id} stopped: ${error}. Sending it again resumes with the members not yet handled.`, { totals: totals as unknown as JsonValue });
    return { campaignId: id, sendId, status, totals };
  }

  /** Changes the campaign document of a running send (latest version; a newer send owns it otherwise). */
  private async updateSend(sandbox: string, id: string, sendId: string, change: (doc: CampaignDoc) => CampaignDoc): Promise<void> {
    const latest = await this.get(sandbox, id);
    if (latest.doc.lastSend?.sendId !== sendId) return;
    await this.saveDoc(sandbox, id, change(latest.doc), latest.version);
  }

  /** Totals over every ledger row of the campaign (all runs). */
  async ledgerTotals(sandbox: string, id: string): Promise<SendTotalsT> {
    const warehouse = await this.deps.store.warehouseOf(sandbox);
    const totals = zeroTotals();
    for (const row of (await warehouse.query(`SELECT status, count(*) AS n FROM ${LEDGER} WHERE campaign_id = $c GROUP BY 1`, { c: id })).rows) {
      const n = Number(row.n);
      totals.recipients += n;
      const key = TOTAL_OF_STATUS[row.status as string];
      if (key) totals[key] += n;
    }
    return totals;
  }

  private async policy(sandbox: string, doc: CampaignDoc): Promise<MergePolicyRecord> {
    return this.deps.mergePolicies.resolve(sandbox, doc.audience.mergePolicyId ?? undefined);
  }

  private async runSend(sandbox: string, record: CampaignRecord, sendId: string): Promise<void> {
    const { store } = this.deps;
    const warehouse = await store.warehouseOf(sandbox);
    await store.setup(sandbox);
    // Unsubscribes reported by an ESP or a file since the last run become consent before anyone is mailed.
    await syncConsent(store, sandbox, this.deps.tenantKey);
    await store.flush();
    await this.resolveInterrupted(sandbox, warehouse, record.id);
    await this.deps.identity.sync(sandbox);
    await this.deps.profileStore.ensureCurrent(sandbox);
    await ensureMembershipTables(warehouse);
    const policy = await this.policy(sandbox, record.doc);
    if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return;
    const members = Number(
      (await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE} WHERE segment_id = $s AND merge_policy_id = $p AND status = 'realized'`, { s: record.doc.audience.segmentId, p: policy.id })).rows[0]?.n ?? 0,
    );
    await this.progress(sandbox, record.id, sendId, members);
    const select = await this.recipientSql(warehouse, policy);
    const mailer = openMailer(this.smtpSettings(sandbox, record));
    const run = { messages: 0 };
    try {
      let after = -1;
      const chunk = this.deps.chunkSize ?? 200;
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
        await this.sendChunk(sandbox, warehouse, record, policy, rows.map(recipientOf), mailer, run);
        await this.progress(sandbox, record.id, sendId, members);
      }
    } finally {
      mailer.close();
    }
  }

  /** Totals and members handled so far, on the campaign document (what `GET /campaigns/{id}` shows). */
  private async progress(sandbox: string, id: string, sendId: string, audience: number): Promise<void> {
    const totals = await this.ledgerTotals(sandbox, id);
    await this.updateSend(sandbox, id, sendId, (doc) => ({ ...doc, lastSend: { ...doc.lastSend!, totals, progress: { audience, handled: totals.recipients } } }));
  }

  /**
   * Rows a stopped send left `sending`: the outcome its durable events recorded (`sent` / `bounced`), else
   * `unconfirmed` — never mailed again (at most once).
   */
  private async resolveInterrupted(sandbox: string, warehouse: SandboxWarehouse, campaignId: string): Promise<void> {
    const open = Number((await warehouse.query(`SELECT count(*) AS n FROM ${LEDGER} WHERE campaign_id = $c AND status = 'sending'`, { c: campaignId })).rows[0]?.n ?? 0);
    if (open === 0) return;
    const tracking = q((await this.deps.store.trackingDataset(sandbox)).tableName);
    await warehouse.query(
      `UPDATE ${LEDGER} l SET status = coalesce(e.status, 'unconfirmed'), smtp_response = coalesce(e.response, 'unconfirmed: the send stopped before the SMTP answer was recorded')
       FROM (SELECT l2.message_id, max(CASE ev.eventType WHEN 'directMarketing.emailBounced' THEN 'bounced' WHEN 'directMarketing.emailDelivered' THEN 'sent' END) AS status,
               max(CASE WHEN ev.eventType = 'directMarketing.emailBounced' THEN 'bounced (recovered from its event) ' || coalesce(ev.directMarketing.emailBouncedCode, '') ELSE 'accepted (recovered from its event)' END) AS response
             FROM ${LEDGER} l2 LEFT JOIN ${tracking} ev ON ev."_id" IN (l2.message_id || ':delivered', l2.message_id || ':bounced')
             WHERE l2.campaign_id = $c AND l2.status = 'sending' GROUP BY 1) e
       WHERE l.message_id = e.message_id AND l.campaign_id = $c AND l.status = 'sending'`,
      { c: campaignId },
    );
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

  /**
   * One chunk: ledger rows first (`sending` for the messages about to go out), then SMTP, then the events
   * (durable), then the outcomes on the ledger rows.
   */
  private async sendChunk(sandbox: string, warehouse: SandboxWarehouse, record: CampaignRecord, policy: MergePolicyRecord, recipients: Recipient[], mailer: Mailer, run: { messages: number }): Promise<void> {
    const { doc } = record;
    const ledger: LedgerRow[] = [];
    const outgoing: { row: LedgerRow; email: string; profile: Record<string, unknown> }[] = [];
    for (const r of recipients) {
      const eligible = r.email !== null && r.consent !== 'n';
      const row: LedgerRow = { messageId: randomBytes(16).toString('hex'), profileId: r.profileId, email: r.email, holdout: false, eligible, status: 'sending', smtpResponse: null, decile: r.decile, predictedClv: r.predictedClv, at: isoNow(this.deps.clock) };
      if (isHeldOut(record.id, r.profileId, doc.holdoutShare)) ledger.push({ ...row, holdout: true, status: 'held_out' });
      else if (!r.email) ledger.push({ ...row, status: 'no_address' });
      else if (r.consent === 'n') ledger.push({ ...row, status: 'suppressed' });
      else {
        ledger.push(row);
        outgoing.push({ row, email: r.email, profile: r.profile });
      }
    }
    await this.writeLedger(warehouse, record, policy, ledger);
    const base = { campaignId: record.id, campaignName: doc.name, audienceId: doc.audience.segmentId, source: 'roundtrip' as const };
    const outcomes: { row: LedgerRow; outcome: SendOutcome; at: string }[] = [];
    await Promise.all(
      outgoing.map(async ({ row, email, profile }) => {
        const outcome = await mailer.send(this.message(sandbox, record, row.messageId, email, profile));
        outcomes.push({ row, outcome, at: isoNow(this.deps.clock) });
      }),
    );
    run.messages += outgoing.length;
    this.deps.beforeRecord?.('smtp-done', run.messages);
    const events: JsonRecord[] = [];
    let transport: string | null = null;
    for (const { row, outcome, at } of outcomes) {
      const event = (kind: EventInput['kind'], extra: Partial<EventInput> = {}) => emailEvent(this.deps.tenantKey, { ...base, kind, id: `${row.messageId}:${kind}`, timestamp: at, email: row.email!, messageId: row.messageId, ...extra });
      if (outcome.kind === 'transport') {
        transport ??= outcome.error;
        continue;
      }
      events.push(event('sent'), outcome.kind === 'accepted' ? event('delivered') : event('bounced', { bounceCode: outcome.code }));
    }
    await this.deps.store.write(sandbox, events);
    this.deps.beforeRecord?.('events-written', run.messages);
    await this.recordOutcomes(warehouse, record.id, outcomes);
    if (transport) throw new Error(`SMTP transport failure: ${transport}`);
  }

  /** The rendered message with its tracking links and headers. */
  private message(sandbox: string, record: CampaignRecord, messageId: string, email: string, profile: Record<string, unknown>): OutgoingMessage {
    const { doc } = record;
    const token = (kind: 'o' | 'c' | 'u', link?: number) => signToken(this.deps.keys.tracking, { sandbox, campaignId: record.id, messageId, kind, ...(link === undefined ? {} : { link }) });
    const unsubscribe = `${doc.trackingBaseUrl}/t/u/${token('u')}`;
    const rendered = renderMessage({ subject: doc.subject, html: doc.html, links: doc.links, defaultValue: doc.defaultValue }, profile, {
      open: `${doc.trackingBaseUrl}/t/o/${token('o')}.gif`,
      click: (i) => `${doc.trackingBaseUrl}/t/c/${token('c', i)}`,
      unsubscribe,
    });
    return {
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
    };
  }

  /**
   * `sending` → `sent` / `bounced` / `unconfirmed` (a transport failure after transmission may have been
   * accepted); a message that never reached the server loses its row, so a resumed send tries it again.
   */
  private async recordOutcomes(warehouse: SandboxWarehouse, campaignId: string, outcomes: readonly { row: LedgerRow; outcome: SendOutcome; at: string }[]): Promise<void> {
    const retry = outcomes.filter((o) => o.outcome.kind === 'transport' && !o.outcome.transmitted).map((o) => quoteLiteral(o.row.messageId));
    const values = outcomes
      .filter((o) => !(o.outcome.kind === 'transport' && !o.outcome.transmitted))
      .map(({ row, outcome, at }) => {
        const [status, response] = outcome.kind === 'accepted' ? ['sent', outcome.response] : outcome.kind === 'refused' ? ['bounced', outcome.response] : ['unconfirmed', outcome.error];
        return `(${quoteLiteral(row.messageId)}, ${quoteLiteral(status)}, ${quoteLiteral(response.slice(0, 500))}, ${quoteLiteral(at)}::TIMESTAMPTZ)`;
      });
    const statements = [
      ...(values.length ? [`UPDATE ${LEDGER} l SET status = v.status, smtp_response = v.response, handled_at = v.handled FROM (VALUES ${values.join(', ')}) v(message_id, status, response, handled) WHERE l.message_id = v.message_id AND l.campaign_id = ${quoteLiteral(campaignId)}`] : []),
      ...(retry.length ? [`DELETE FROM ${LEDGER} WHERE campaign_id = ${quoteLiteral(campaignId)} AND message_id IN (${retry.join(', ')})`] : []),
    ];
    if (statements.length) await warehouse.query(`BEGIN TRANSACTION; ${statements.join('; ')}; COMMIT`);
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

  /** Campaigns whose send time has come and that were not sent yet, and orphaned sends (their process died). */
  async due(sandbox: string, at: string): Promise<CampaignRecord[]> {
    return (await this.list(sandbox)).filter(
      (c) => (c.doc.status === 'scheduled' && c.doc.sendAt !== null && Date.parse(c.doc.sendAt) <= Date.parse(at)) || (c.doc.status === 'sending' && !this.active.has(`${sandbox}/${c.id}`)),
    );
  }

  jobKinds(): JobKind[] {
    return [
      {
        kind: 'campaign.send',
        description: 'Send campaigns whose send time has come and resume orphaned sends (params: campaignId to send one now)',
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

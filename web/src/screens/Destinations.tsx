/**
 * Destinations (reference §12): the catalog of destination types, accounts (settings from each type's JSON
 * Schema; secrets go in and are never shown back, only which are set), the activation wizard (destination →
 * audiences → scheduling → file names → attributes with mandatory ones and deduplication keys → review with the
 * data usage governance check) and dataflows with their runs.
 */
import { useState, type FormEvent } from 'react';
import type { Static } from 'typebox';
import { policyViolations, type LabelMap } from '../../../src/activation/governance.ts';
import type { DataflowBody, DataflowView, RunView } from '../../../src/activation/payloads.ts';
import type { DefinitionView } from '../../../src/audiences/payloads.ts';
import type { AccountView, CatalogView, ConnectionTestView } from '../../../src/destinations/payloads.ts';
import { DEFAULT_FILE_NAME_TEMPLATE, renderFileName } from '../../../src/destinations/file-names.ts';
import type { ScreenProps } from '../App.tsx';
import type { Client } from '../api.ts';
import { DataTable, Empty, ErrorBox, Loading, Progress, useAsync } from '../components/ui.tsx';
import { fieldsOfClass } from '../components/xdm-fields.ts';

type Catalog = Static<typeof CatalogView>;
type CatalogEntry = Catalog['destinations'][number];
type Account = Static<typeof AccountView>;
type Dataflow = Static<typeof DataflowView>;
type DataflowInput = Static<typeof DataflowBody>;
type Run = Static<typeof RunView>;
type Segment = Static<typeof DefinitionView>;
type AudienceInput = DataflowInput['audiences'][number];
type FieldInput = DataflowInput['fields'][number];

interface JsonProperty {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: string[];
  anyOf?: { const?: string }[];
}
interface ObjectSchema {
  properties?: Record<string, JsonProperty>;
  required?: string[];
}

const today = () => new Date().toISOString().slice(0, 10);

/** One input per property of a catalog JSON Schema (enums as selects, integers as numbers). */
function SchemaFields({ schema, values, onChange, secret }: { schema: unknown; values: Record<string, string>; onChange: (v: Record<string, string>) => void; secret?: boolean }) {
  const s = schema as ObjectSchema;
  return (
    <>
      {Object.entries(s.properties ?? {}).map(([name, p]) => {
        const choices = p.enum ?? p.anyOf?.map((a) => a.const).filter((c): c is string => typeof c === 'string');
        const label = `${name}${s.required?.includes(name) ? ' *' : ''}`;
        return (
          <label key={name} title={p.description}>
            {label}
            {choices?.length ? (
              <select value={values[name] ?? ''} onChange={(e) => onChange({ ...values, [name]: e.target.value })}>
                <option value="">—</option>
                {choices.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            ) : (
              <input
                type={secret ? 'password' : p.type === 'integer' || p.type === 'number' ? 'number' : 'text'}
                autoComplete={secret ? 'new-password' : 'off'}
                value={values[name] ?? ''}
                placeholder={typeof p.default === 'string' || typeof p.default === 'number' ? String(p.default) : p.description}
                onChange={(e) => onChange({ ...values, [name]: e.target.value })}
              />
            )}
          </label>
        );
      })}
    </>
  );
}

function CreateAccount({ client, catalog, actions, onCreated }: { client: Client; catalog: Catalog; actions: string[]; onCreated: () => void }) {
  const types = catalog.destinations.filter((d) => d.implemented);
  const [type, setType] = useState(types[0]?.type ?? 'local-folder');
  const [name, setName] = useState('');
  const [params, setParams] = useState<Record<string, string>>({});
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [marketing, setMarketing] = useState<string[]>([]);
  const [error, setError] = useState<unknown>();
  const entry = types.find((t) => t.type === type);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const props = (entry?.params as ObjectSchema).properties ?? {};
    const typed = Object.fromEntries(
      Object.entries(params)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => [k, props[k]?.type === 'integer' || props[k]?.type === 'number' ? Number(v) : props[k]?.type === 'boolean' ? v === 'true' : v]),
    );
    const secretValues = Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== ''));
    try {
      await client.post('/destinations/accounts', { name, type, params: typed, ...(Object.keys(secretValues).length ? { secrets: secretValues } : {}), marketingActions: marketing });
      setName('');
      setParams({});
      setSecrets({});
      onCreated();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Create destination account">
      <div className="row">
        <label>
          Type
          <select value={type} onChange={(e) => (setType(e.target.value as CatalogEntry['type']), setParams({}), setSecrets({}))}>
            {types.map((t) => (
              <option key={t.type} value={t.type}>
                {t.title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Account name
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        {entry && <SchemaFields schema={entry.params} values={params} onChange={setParams} />}
        {entry && <SchemaFields schema={entry.secrets} values={secrets} onChange={setSecrets} secret />}
      </div>
      <fieldset>
        <legend>Marketing actions (checked against data usage labels)</legend>
        {actions.map((a) => (
          <label key={a} className="check">
            <input type="checkbox" checked={marketing.includes(a)} onChange={(e) => setMarketing(e.target.checked ? [...marketing, a] : marketing.filter((m) => m !== a))} /> {a}
          </label>
        ))}
      </fieldset>
      <button type="submit" disabled={!name}>
        Save account
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function Accounts({ client, catalog, accounts, actions, editable, onChanged }: { client: Client; catalog: Catalog; accounts: Account[]; actions: string[]; editable: boolean; onChanged: () => void }) {
  const [tests, setTests] = useState<Record<string, Static<typeof ConnectionTestView>>>({});
  const [error, setError] = useState<unknown>();
  const test = (id: string) => client.post<Static<typeof ConnectionTestView>>(`/destinations/accounts/${id}/test`).then((r) => setTests({ ...tests, [id]: r }), setError);
  const remove = (a: Account) => window.confirm(`Delete the account “${a.name}”?`) && client.del(`/destinations/accounts/${a.id}`).then(onChanged, setError);
  return (
    <section aria-label="Accounts">
      <h3>Accounts</h3>
      {accounts.length === 0 && <Empty>No destination accounts yet: add one below (a local folder or SFTP for files, Eloqua or a webhook for records).</Empty>}
      {accounts.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Settings</th>
              <th>Secrets</th>
              <th>Marketing actions</th>
              <th>Connection</th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.type}</td>
                <td>{Object.entries(a.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')}</td>
                <td>{a.secretsSet.length ? `${a.secretsSet.join(', ')} set` : 'none'}{a.pgpEncryption ? ' · PGP' : ''}</td>
                <td>{a.marketingActions.join(', ')}</td>
                <td>
                  {editable && (
                    <>
                      <button type="button" onClick={() => void test(a.id)}>
                        Test
                      </button>{' '}
                      <button type="button" className="danger" onClick={() => void remove(a)}>
                        Delete
                      </button>{' '}
                    </>
                  )}
                  {tests[a.id] && <span className={tests[a.id]!.ok ? 'ok' : 'bad'}>{tests[a.id]!.ok ? '✓' : '✗'} {tests[a.id]!.message}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={error} />
      {editable && (
        <details>
          <summary>Add a destination account</summary>
          <CreateAccount client={client} catalog={catalog} actions={actions} onCreated={onChanged} />
        </details>
      )}
    </section>
  );
}

// ── the activation wizard ───────────────────────────────────────────────────────────────────────────────────
const STEPS = ['Destination', 'Audiences', 'Scheduling', 'File names', 'Attributes', 'Review'] as const;
type Step = (typeof STEPS)[number];
const FULL_FREQ = ['once', 'daily'] as const;
const INCR_FREQ = ['daily', 'every-3-hours', 'every-6-hours', 'every-8-hours', 'every-12-hours'] as const;

interface FieldDraft {
  kind: 'attribute' | 'identity';
  source: string;
  target: string;
  mandatory: boolean;
  hash: boolean;
}

const PREFILLED: FieldDraft[] = [
  { kind: 'attribute', source: 'personalEmail.address', target: 'email', mandatory: true, hash: false },
  { kind: 'attribute', source: 'person.name.firstName', target: 'firstName', mandatory: false, hash: false },
  { kind: 'attribute', source: 'person.name.lastName', target: 'lastName', mandatory: false, hash: false },
  { kind: 'attribute', source: 'segmentMembership.status', target: '', mandatory: false, hash: false },
];

function Wizard({ client, accounts, segments, onDone, onCancel }: { client: Client; accounts: Account[]; segments: Segment[]; onDone: (d: Dataflow) => void; onCancel: () => void }) {
  const [step, setStep] = useState<Step>('Destination');
  const [accountId, setAccountId] = useState(accounts[0]?.id ?? '');
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [audiences, setAudiences] = useState<Record<string, AudienceInput>>({});
  const [fields, setFields] = useState<FieldDraft[]>(PREFILLED);
  const [dedup, setDedup] = useState<{ kind: 'none' | 'namespace' | 'attributes'; value: string }>({ kind: 'none', value: '' });
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const profileFields = useAsync(() => fieldsOfClass(client, 'profile'), []);
  const namespaces = useAsync(() => client.get<{ namespaces: { code: string }[] }>('/namespaces').then((r) => r.namespaces.map((n) => n.code)), []);
  const labels = useAsync(() => client.get<LabelMap>('/activation/governance/labels'), []);
  const account = accounts.find((a) => a.id === accountId);
  const streaming = account?.type === 'eloqua' || account?.type === 'webhook';
  const audienceOf = (id: string): AudienceInput =>
    audiences[id] ?? { segmentId: id, schedule: streaming ? { exportType: 'streaming', startDate: today() } : { exportType: 'full', frequency: 'once', time: '00:00', startDate: today() } };
  const setAudience = (id: string, next: AudienceInput) => setAudiences({ ...audiences, [id]: next });

  const body = (): DataflowInput => {
    const mapped: FieldInput[] = fields
      .filter((f) => f.source)
      .map((f) => ({ source: f.kind === 'identity' ? { identity: f.source } : { attribute: f.source }, ...(f.target ? { target: f.target } : {}), ...(f.mandatory ? { mandatory: true } : {}), ...(f.hash ? { hash: 'sha256' as const } : {}) }));
    const deduplication = dedup.kind === 'namespace' && dedup.value ? { namespace: dedup.value } : dedup.kind === 'attributes' && dedup.value ? { attributes: dedup.value.split(',').map((s) => s.trim()).filter(Boolean).slice(0, 2) } : null;
    return { name: name || `${account?.name ?? 'Destination'} activation`, destinationId: accountId, audiences: chosen.map(audienceOf), fields: mapped, deduplication };
  };
  const violations = labels.data
    ? policyViolations(
        labels.data,
        [
          ...body().fields.map((f) => ('identity' in f.source ? { identity: f.source.identity } : { attribute: f.source.attribute })),
          ...(dedup.kind === 'attributes' ? dedup.value.split(',').map((a) => ({ attribute: a.trim() })).filter((a) => a.attribute) : []),
        ],
        account?.marketingActions ?? [],
      )
    : [];
  const fileName = (id: string, template: string): string => {
    try {
      return `${renderFileName(template, { destination: account?.name ?? 'destination', segmentId: id, segmentName: segments.find((s) => s.id === id)?.name ?? '', at: new Date() })}.csv`;
    } catch (e) {
      return `✗ ${(e as Error).message}`;
    }
  };
  const finish = async () => {
    setSaving(true);
    setError(undefined);
    try {
      onDone(await client.post<Dataflow>('/activation/dataflows', body()));
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  const index = STEPS.indexOf(step);
  const canNext = (step === 'Destination' && Boolean(accountId)) || (step === 'Audiences' && chosen.length > 0) || (step !== 'Destination' && step !== 'Audiences');
  const attributeOptions = profileFields.data?.map((f) => f.path) ?? [];
  return (
    <section aria-label="Activate audiences" className="composer">
      <h3>Activate audiences</h3>
      <ol className="wizard-steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={s === step ? 'step' : undefined}>
            {i + 1}. {s}
          </li>
        ))}
      </ol>
      {step === 'Destination' && (
        <div className="row">
          <label>
            Destination
            <select value={accountId} onChange={(e) => setAccountId(e.target.value)}>
              {accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.type})
                </option>
              ))}
            </select>
          </label>
          <label>
            Dataflow name
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder={`${account?.name ?? ''} activation`} />
          </label>
        </div>
      )}
      {step === 'Audiences' &&
        (segments.length === 0 ? (
          <Empty>No audiences to activate: build one on the Audiences screen first.</Empty>
        ) : (
          <fieldset>
            <legend>Select audiences</legend>
            {segments.map((s) => (
              <label key={s.id} className="check">
                <input type="checkbox" checked={chosen.includes(s.id)} onChange={(e) => setChosen(e.target.checked ? [...chosen, s.id] : chosen.filter((c) => c !== s.id))} /> {s.name} <small>{s.id}</small>
              </label>
            ))}
          </fieldset>
        ))}
      {step === 'Scheduling' &&
        chosen.map((id) => {
          const a = audienceOf(id);
          const s = a.schedule;
          const set = (patch: Record<string, unknown>) => setAudience(id, { ...a, schedule: { ...s, ...patch } });
          return (
            <fieldset key={id} aria-label={`Schedule of ${segments.find((x) => x.id === id)?.name ?? id}`}>
              <legend>{segments.find((x) => x.id === id)?.name ?? id}</legend>
              <div className="row">
                {s.exportType !== 'streaming' && (
                  <>
                    <label>
                      Export
                      <select value={s.exportType} onChange={(e) => set({ exportType: e.target.value, frequency: e.target.value === 'full' ? 'once' : 'daily' })}>
                        <option value="full">Export full files</option>
                        <option value="incremental">Export incremental files</option>
                      </select>
                    </label>
                    <label>
                      Frequency
                      <select value={s.frequency} onChange={(e) => set({ frequency: e.target.value })}>
                        {(s.exportType === 'full' ? FULL_FREQ : INCR_FREQ).map((f) => (
                          <option key={f}>{f}</option>
                        ))}
                      </select>
                    </label>
                    <label>
                      Trigger
                      <select value={s.trigger ?? 'scheduled'} onChange={(e) => set({ trigger: e.target.value })}>
                        <option value="scheduled">Scheduled (time)</option>
                        <option value="after-segment-evaluation">After segment evaluation</option>
                      </select>
                    </label>
                    <label>
                      Time (UTC)
                      <input type="time" value={s.time ?? '00:00'} onChange={(e) => set({ time: e.target.value })} />
                    </label>
                  </>
                )}
                <label>
                  Start date
                  <input type="date" value={s.startDate} onChange={(e) => set({ startDate: e.target.value })} />
                </label>
                <label>
                  End date (excluded)
                  <input type="date" value={s.endDate ?? ''} onChange={(e) => set({ endDate: e.target.value || null })} />
                </label>
              </div>
            </fieldset>
          );
        })}
      {step === 'File names' &&
        (streaming ? (
          <Empty>{account?.type} receives records, not files: nothing to name here.</Empty>
        ) : (
          chosen.map((id) => {
            const a = audienceOf(id);
            const template = a.fileNameTemplate ?? DEFAULT_FILE_NAME_TEMPLATE;
            return (
              <div className="row" key={id}>
                <label>
                  File name of {segments.find((x) => x.id === id)?.name ?? id}
                  <input size={60} value={template} onChange={(e) => setAudience(id, { ...a, fileNameTemplate: e.target.value })} />
                </label>
                <span className="hint" data-testid="file-name-preview">
                  {fileName(id, template)}
                </span>
              </div>
            );
          })
        ))}
      {step === 'File names' && !streaming && <p className="hint">Macros: {'{destination} {segmentId}'} (mandatory), {'{segmentName} {timestamp} {datetime} {unixtime}'}; without a date-time each export overwrites the last file.</p>}
      {step === 'Attributes' && (
        <>
          <datalist id="profile-attributes">
            {attributeOptions.map((p) => (
              <option key={p} value={p} />
            ))}
            <option value="segmentMembership.status" />
          </datalist>
          <table>
            <thead>
              <tr>
                <th>Source</th>
                <th>Field or namespace</th>
                <th>Target</th>
                <th>Mandatory</th>
                <th>SHA-256</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {fields.map((f, i) => {
                const set = (patch: Partial<FieldDraft>) => setFields(fields.map((o, j) => (j === i ? { ...o, ...patch } : o)));
                return (
                  <tr key={i}>
                    <td>
                      <select aria-label="Source kind" value={f.kind} onChange={(e) => set({ kind: e.target.value as FieldDraft['kind'], source: '' })}>
                        <option value="attribute">attribute</option>
                        <option value="identity">identity</option>
                      </select>
                    </td>
                    <td>
                      {f.kind === 'attribute' ? (
                        <input aria-label="Attribute" list="profile-attributes" value={f.source} onChange={(e) => set({ source: e.target.value })} />
                      ) : (
                        <select aria-label="Namespace" value={f.source} onChange={(e) => set({ source: e.target.value })}>
                          <option value="">—</option>
                          {(namespaces.data ?? []).map((n) => (
                            <option key={n}>{n}</option>
                          ))}
                        </select>
                      )}
                    </td>
                    <td>
                      <input aria-label="Target" value={f.target} onChange={(e) => set({ target: e.target.value })} placeholder="same as source" />
                    </td>
                    <td>
                      <input type="checkbox" aria-label={`Mandatory ${f.source}`} checked={f.mandatory} onChange={(e) => set({ mandatory: e.target.checked })} />
                    </td>
                    <td>
                      <input type="checkbox" aria-label={`Hash ${f.source}`} checked={f.hash} onChange={(e) => set({ hash: e.target.checked })} />
                    </td>
                    <td>
                      <button type="button" aria-label={`Remove ${f.source}`} onClick={() => setFields(fields.filter((_, j) => j !== i))}>
                        ×
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <button type="button" onClick={() => setFields([...fields, { kind: 'attribute', source: '', target: '', mandatory: false, hash: false }])}>
            + Add attribute
          </button>
          <fieldset>
            <legend>Deduplication keys</legend>
            <div className="row">
              <select aria-label="Deduplication" value={dedup.kind} onChange={(e) => setDedup({ kind: e.target.value as 'none', value: '' })}>
                <option value="none">None</option>
                <option value="namespace">An identity namespace</option>
                <option value="attributes">One or two profile attributes</option>
              </select>
              {dedup.kind === 'namespace' && (
                <select aria-label="Deduplication namespace" value={dedup.value} onChange={(e) => setDedup({ ...dedup, value: e.target.value })}>
                  <option value="">—</option>
                  {(namespaces.data ?? []).map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              )}
              {dedup.kind === 'attributes' && <input aria-label="Deduplication attributes" list="profile-attributes" value={dedup.value} onChange={(e) => setDedup({ ...dedup, value: e.target.value })} placeholder="personalEmail.address" />}
            </div>
          </fieldset>
        </>
      )}
      {step === 'Review' && (
        <div aria-label="Review">
          <DataTable
            rows={[
              { setting: 'Destination', value: `${account?.name ?? ''} (${account?.type ?? ''})` },
              { setting: 'Audiences', value: chosen.map((id) => segments.find((s) => s.id === id)?.name ?? id).join(', ') },
              { setting: 'Attributes', value: body().fields.map((f) => `${'identity' in f.source ? `identity:${f.source.identity}` : f.source.attribute}${f.mandatory ? ' (mandatory)' : ''}`).join(', ') },
              { setting: 'Deduplication', value: body().deduplication ? JSON.stringify(body().deduplication) : 'none' },
            ]}
          />
          <h4>Governance check</h4>
          {!labels.data ? (
            <Loading what="data usage labels" />
          ) : violations.length === 0 ? (
            <p className="ok" data-testid="governance">
              ✓ No data usage policy violation for the marketing actions {account?.marketingActions.join(', ') || '(none set)'}.
            </p>
          ) : (
            <ul className="bad" data-testid="governance">
              {violations.map((v, i) => (
                <li key={i}>{v.explanation}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorBox error={error} />
      <div className="row">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" disabled={index === 0} onClick={() => setStep(STEPS[index - 1]!)}>
          Back
        </button>
        {step !== 'Review' ? (
          <button type="button" disabled={!canNext} onClick={() => setStep(STEPS[index + 1]!)}>
            Next
          </button>
        ) : (
          <button type="button" disabled={violations.length > 0 || saving} onClick={() => void finish()}>
            {saving ? 'Saving…' : 'Finish'}
          </button>
        )}
      </div>
    </section>
  );
}

function Runs({ client, dataflow, editable }: { client: Client; dataflow: Dataflow; editable: boolean }) {
  const [tick, setTick] = useState(0);
  const runs = useAsync(() => client.get<{ runs: Run[] }>(`/activation/dataflows/${dataflow.id}/runs?limit=20`).then((r) => r.runs), [dataflow.id, tick]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>();
  const go = (path: string) => async () => {
    setRunning(true);
    setError(undefined);
    try {
      await client.post(path, {});
    } catch (e) {
      setError(e);
    } finally {
      setRunning(false);
      setTick((t) => t + 1);
    }
  };
  return (
    <section aria-label={`Dataflow ${dataflow.name}`}>
      <h3>
        {dataflow.name} <small>{dataflow.mode} · {dataflow.state}</small>
      </h3>
      {editable && (
        <button type="button" onClick={() => void go(`/activation/dataflows/${dataflow.id}/runs`)()} disabled={running}>
          Run now
        </button>
      )}
      {running && <Progress fraction={0.5} label="Exporting" />}
      <ErrorBox error={error ?? runs.error} />
      {runs.data?.length === 0 && <Empty>No runs yet: the schedule runs it, or choose “Run now”.</Empty>}
      {runs.data && runs.data.length > 0 && (
        <DataTable
          caption="Runs"
          rows={runs.data.map((r) => ({
            started: r.startedAt,
            trigger: r.trigger,
            status: r.status,
            profiles: r.profiles,
            skipped: Object.entries(r.skipped).map(([k, v]) => `${k} ${v}`).join(', '),
            failed: r.failed,
            files: r.audiences.flatMap((a) => a.files.map((f) => `${f.name} (${f.rows} rows)`)).join(', '),
            bytes: r.bytes,
            ms: r.durationMs,
            error: r.error ? `${r.error.code}: ${r.error.message}` : '',
          }))}
        />
      )}
      {editable &&
        runs.data
          ?.filter((r) => r.status === 'failed' || r.status === 'partial')
          .slice(0, 1)
          .map((r) => (
            <button key={r.id} type="button" onClick={() => void go(`/activation/dataflows/${dataflow.id}/runs/${r.id}/retry`)()}>
              Retry {r.id}
            </button>
          ))}
    </section>
  );
}

export default function Destinations({ client, can }: ScreenProps) {
  const [tick, setTick] = useState(0);
  const catalog = useAsync(() => client.get<Catalog>('/destinations/catalog'), []);
  const accounts = useAsync(() => client.get<{ accounts: Account[] }>('/destinations/accounts').then((r) => r.accounts), [tick]);
  const dataflows = useAsync(() => client.get<{ dataflows: Dataflow[] }>('/activation/dataflows').then((r) => r.dataflows), [tick]);
  const segments = useAsync(() => client.get<{ segments: Segment[] }>('/segment/definitions').then((r) => r.segments), []);
  const policies = useAsync(() => client.get<{ marketingActions: string[] }>('/activation/governance/policies'), []);
  const [wizard, setWizard] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const editable = can('activation:write');
  const reload = () => setTick((t) => t + 1);
  const flow = dataflows.data?.find((d) => d.id === selected);
  return (
    <div>
      <h2>Destinations</h2>
      <ErrorBox error={catalog.error ?? accounts.error ?? dataflows.error} />
      <section aria-label="Catalog">
        <h3>Catalog</h3>
        {catalog.data ? (
          <div className="card-list">
            {catalog.data.destinations.map((d) => (
              <div key={d.type} className="card">
                <strong>{d.title}</strong>
                <span>
                  {d.kind}
                  {d.implemented ? '' : ' · configured by campaigns'}
                  {d.fileEncryption ? ' · PGP' : ''}
                </span>
                <span>{d.description}</span>
              </div>
            ))}
          </div>
        ) : (
          <Loading what="the catalog" />
        )}
      </section>
      {catalog.data && accounts.data && <Accounts client={client} catalog={catalog.data} accounts={accounts.data} actions={policies.data?.marketingActions ?? []} editable={editable} onChanged={reload} />}
      <section aria-label="Dataflows">
        <h3>Dataflows</h3>
        {dataflows.data?.length === 0 && <Empty>Nothing is activated yet{editable ? ': choose “Activate audiences” to send an audience to a destination.' : '.'}</Empty>}
        {dataflows.data && dataflows.data.length > 0 && (
          <div className="card-list">
            {dataflows.data.map((d) => (
              <button key={d.id} type="button" className="card" aria-pressed={d.id === selected} onClick={() => setSelected(d.id)}>
                <strong>{d.name}</strong>
                <span>
                  {d.mode} · {d.audiences.length} audiences · {accounts.data?.find((a) => a.id === d.destinationId)?.name ?? d.destinationId}
                </span>
              </button>
            ))}
          </div>
        )}
        {editable && !wizard && (
          <button type="button" onClick={() => setWizard(true)} disabled={!accounts.data?.length}>
            Activate audiences
          </button>
        )}
        {editable && accounts.data?.length === 0 && <p className="hint">Add a destination account first.</p>}
      </section>
      {wizard && accounts.data && segments.data && (
        <Wizard
          client={client}
          accounts={accounts.data}
          segments={segments.data}
          onCancel={() => setWizard(false)}
          onDone={(d) => {
            setWizard(false);
            setSelected(d.id);
            reload();
          }}
        />
      )}
      {flow && <Runs key={flow.id} client={client} dataflow={flow} editable={editable} />}
    </div>
  );
}

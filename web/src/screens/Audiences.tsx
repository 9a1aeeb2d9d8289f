/**
 * Audiences (reference §10): the segment builder — fields rail, rule canvas, code view with PQL editable both
 * ways (the builder's pure converters `ruleToPql` / `pqlTextToRule` run here, the same ones the API's tests
 * check), validation, the evaluation method with its eligibility popover (`checkEligibility`), the estimate
 * with its 95 % confidence interval and a preview of matching profiles; then save, evaluate (a segment job with
 * progress), members and the membership trend.
 */
import { useEffect, useMemo, useState } from 'react';
import type { Static } from 'typebox';
import { pqlTextToRule } from '../../../src/audiences/builder/from-pql.ts';
import type { SegmentRule } from '../../../src/audiences/builder/model.ts';
import { normalizeRule } from '../../../src/audiences/builder/normalize.ts';
import { ruleToPql } from '../../../src/audiences/builder/to-pql.ts';
import { validateRule } from '../../../src/audiences/builder/validate.ts';
import { checkEligibility, type Eligibility } from '../../../src/audiences/eligibility.ts';
import type { DefinitionView, EstimateView, JobView, MembersView, PreviewView, TrendView } from '../../../src/audiences/payloads.ts';
import { parsePql } from '../../../src/audiences/pql/index.ts';
import type { ScreenProps } from '../App.tsx';
import type { Client } from '../api.ts';
import { Chart } from '../components/Chart.tsx';
import { FieldsRail, RuleCanvas, blockOfTile, insertInto, type Path } from '../components/SegmentBuilder.tsx';
import { DataTable, Empty, ErrorBox, Progress, useAsync } from '../components/ui.tsx';
import { fieldsOfClass } from '../components/xdm-fields.ts';

type Definition = Static<typeof DefinitionView>;
type Estimate = Static<typeof EstimateView>;
type Job = Static<typeof JobView>;
type Trend = Static<typeof TrendView>;
type Members = Static<typeof MembersView>;
type Preview = Static<typeof PreviewView>;
type Method = 'batch' | 'streaming' | 'edge';

const EMPTY_RULE: SegmentRule = { version: 1, root: { kind: 'container', mode: 'include', combinator: 'and', children: [] } };
const JOB_PROGRESS: Record<string, number> = { NEW: 0.05, QUEUED: 0.15, PROCESSING: 0.5, CANCELLING: 0.9, SUCCEEDED: 1, FAILED: 1, CANCELLED: 1 };

function methodOf(d: Definition | undefined): Method {
  if (d?.evaluationInfo.synchronous.enabled) return 'edge';
  if (d?.evaluationInfo.continuous.enabled) return 'streaming';
  return 'batch';
}

function EligibilityPopover({ eligibility, method, onClose }: { eligibility: Eligibility | null; method: Method; onClose: () => void }) {
  return (
    <div className="popover" role="dialog" aria-label="Evaluation method eligibility" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <div className="row spread">
        <strong>Evaluation method eligibility</strong>
        <button type="button" onClick={onClose} aria-label="Close" autoFocus>
          ×
        </button>
      </div>
      {!eligibility ? (
        <p>Write a valid expression first.</p>
      ) : (
        <>
          <p className="hint">Query shape: {eligibility.shape}</p>
          {(['batch', 'streaming', 'edge'] as const).map((m) => (
            <div key={m}>
              <strong className={eligibility[m].eligible ? 'ok' : 'bad'}>
                {eligibility[m].eligible ? '✓' : '✗'} {m} {m === method ? '(chosen)' : ''}
              </strong>
              <ul>
                {eligibility[m].reasons.map((r) => (
                  <li key={r.code}>
                    <code>{r.code}</code> {r.message}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </>
      )}
    </div>
  );
}

function Evaluation({ client, definition, editable }: { client: Client; definition: Definition; editable: boolean }) {
  const [tick, setTick] = useState(0);
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>();
  const trend = useAsync(() => client.get<Trend>(`/segment/definitions/${definition.id}/trend`), [definition.id, tick]);
  const members = useAsync(() => client.get<Members>(`/segment/definitions/${definition.id}/members?limit=10`), [definition.id, tick]);
  const jobs = useAsync(() => client.get<{ children: Job[] }>('/segment/jobs').then((r) => r.children.filter((j) => j.segments.some((s) => s.segmentId === definition.id || s.segmentId === '*')).slice(0, 5)), [definition.id, tick]);
  useEffect(() => {
    if (!job || JOB_PROGRESS[job.status] === 1) return;
    const timer = setTimeout(() => {
      client.get<Job>(`/segment/jobs/${job.id}`).then((next) => {
        setJob(next);
        if (JOB_PROGRESS[next.status] === 1) setTick((t) => t + 1);
      }, setError);
    }, 300);
    return () => clearTimeout(timer);
  }, [job]);
  const evaluate = () => {
    setError(undefined);
    client.post<Job>('/segment/jobs', [{ segmentId: definition.id }]).then(setJob, setError);
  };
  const running = job && JOB_PROGRESS[job.status] !== 1;
  return (
    <section aria-label="Evaluation">
      <h3>Qualified profiles</h3>
      {editable && definition.origin === 'pql' && (
        <button type="button" onClick={evaluate} disabled={Boolean(running)}>
          Evaluate now
        </button>
      )}
      {job && <Progress fraction={JOB_PROGRESS[job.status] ?? 0} label={`Segment job ${job.status}`} />}
      {job && (
        <p role="status" data-testid="job-status">
          Job {job.id}: {job.status}
          {job.metrics ? ` · ${job.metrics.segmentedProfileCounter[definition.id] ?? 0} profiles qualified of ${job.metrics.totalProfiles} in ${job.metrics.totalTime.totalTimeInMs} ms` : ''}
        </p>
      )}
      <ErrorBox error={error ?? trend.error ?? members.error} />
      {members.data && (
        <p data-testid="qualified">
          <strong>{members.data.page.totalCount.toLocaleString()}</strong> qualified profiles
        </p>
      )}
      {members.data?.page.totalCount === 0 && <Empty>No members yet: evaluate the audience (or wait for the daily batch job).</Empty>}
      {members.data && members.data.members.length > 0 && <DataTable caption="Members (first 10)" rows={members.data.members.map((m) => ({ profile: m.profileId, status: m.status, qualified: m.lastQualificationTime, identities: m.identities.map((i) => `${i.namespace}:${i.id}`).join(', ') }))} />}
      {trend.data && trend.data.days.length > 0 && (
        <Chart
          label="Membership trend"
          height={220}
          option={{
            tooltip: { trigger: 'axis' },
            legend: {},
            xAxis: { type: 'category', data: trend.data.days.map((d) => d.day) },
            yAxis: { type: 'value' },
            series: [
              { name: 'members', type: 'line', data: trend.data.days.map((d) => d.members) },
              { name: 'entered', type: 'bar', data: trend.data.days.map((d) => d.entered) },
              { name: 'exited', type: 'bar', data: trend.data.days.map((d) => d.exited) },
            ],
          }}
        />
      )}
      {jobs.data && jobs.data.length > 0 && <DataTable caption="Segment jobs" rows={jobs.data.map((j) => ({ id: j.id, status: j.status, created: new Date(j.creationTime).toISOString(), by: j.requestedBy, errors: j.errors.map((e) => e.code).join(', ') }))} />}
    </section>
  );
}

function Editor({ client, definition, definitions, editable, onSaved }: { client: Client; definition: Definition | undefined; definitions: Definition[]; editable: boolean; onSaved: (d: Definition) => void }) {
  const initialPql = definition?.expression?.value ?? '';
  const initial = useMemo(() => {
    if (!initialPql) return { rule: EMPTY_RULE, reason: '' };
    try {
      const r = pqlTextToRule(initialPql);
      return r.editable ? { rule: r.rule, reason: '' } : { rule: null, reason: r.reason };
    } catch (e) {
      return { rule: null, reason: (e as Error).message };
    }
  }, [initialPql]);
  const [name, setName] = useState(definition?.name ?? '');
  const [description, setDescription] = useState(definition?.description ?? '');
  const [method, setMethod] = useState<Method>(methodOf(definition));
  const [rule, setRule] = useState<SegmentRule | null>(initial.rule);
  const [pql, setPql] = useState(initialPql);
  const [codeNote, setCodeNote] = useState(initial.reason);
  const [view, setView] = useState<'builder' | 'code'>(initial.rule ? 'builder' : 'code');
  const [target, setTarget] = useState<Path>([]);
  const [popover, setPopover] = useState(false);
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [estimating, setEstimating] = useState(false);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const attributes = useAsync(() => fieldsOfClass(client, 'profile'), []);
  const events = useAsync(() => fieldsOfClass(client, 'experienceevent'), []);
  const fieldMap = useMemo(() => new Map((attributes.data ?? []).map((f) => [f.path, f])), [attributes.data]);
  const segments = definitions.filter((d) => d.id !== definition?.id).map((d) => ({ id: d.id, name: d.name }));

  const changeRule = (next: SegmentRule) => {
    setRule(next);
    setCodeNote('');
    setPql(next.root.children.length ? ruleToPql(next) : '');
    setEstimate(null);
    setPreview(null);
  };
  const changeCode = (text: string) => {
    setPql(text);
    setEstimate(null);
    setPreview(null);
    if (!text.trim()) return (setRule(EMPTY_RULE), setCodeNote(''));
    try {
      const result = pqlTextToRule(text);
      if (result.editable) {
        setRule(normalizeRule(result.rule));
        setCodeNote('');
      } else {
        setRule(null);
        setCodeNote(result.reason);
      }
    } catch (e) {
      setRule(null);
      setCodeNote((e as Error).message);
    }
  };
  const validation = useMemo(() => (rule ? validateRule(rule) : null), [rule]);
  const eligibility = useMemo(() => {
    if (!pql.trim()) return null;
    try {
      const byId = new Map(definitions.map((d) => [d.id, d]));
      return checkEligibility(parsePql(pql), {
        segments: (id) => {
          const d = byId.get(id);
          if (!d) return undefined;
          const methods: Method[] = ['batch', ...(d.evaluationInfo.continuous.enabled ? (['streaming'] as const) : []), ...(d.evaluationInfo.synchronous.enabled ? (['edge'] as const) : [])];
          return { methods, external: d.origin === 'external', profileOnly: d.eligibility?.shape === 'profile-only' };
        },
      });
    } catch {
      return null;
    }
  }, [pql, definitions]);
  const hasErrors = !pql.trim() || Boolean(validation?.issues.some((i) => i.severity === 'error')) || (!rule && !eligibility);
  const runEstimate = async () => {
    setEstimating(true);
    setError(undefined);
    setPreview(null);
    try {
      setEstimate(await client.post<Estimate>('/preview', { predicateExpression: pql, ...(definition ? { mergePolicyId: definition.mergePolicyId } : {}) }));
    } catch (e) {
      setError(e);
    } finally {
      setEstimating(false);
    }
  };
  const viewProfiles = async () => {
    if (!estimate) return;
    try {
      setPreview(await client.get<Preview>(`/preview/${estimate.previewId}?limit=20`));
    } catch (e) {
      setError(e);
    }
  };
  const save = async () => {
    setSaving(true);
    setError(undefined);
    const evaluationInfo = { batch: { enabled: true }, continuous: { enabled: method === 'streaming' }, synchronous: { enabled: method === 'edge' } };
    const expression = { type: 'PQL' as const, format: 'pql/text' as const, value: pql };
    try {
      const saved = definition
        ? await client.patch<Definition>(`/segment/definitions/${definition.id}`, { name, description, expression, evaluationInfo })
        : await client.post<Definition>('/segment/definitions', { name, description, expression, evaluationInfo });
      onSaved(saved);
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  const chosenIneligible = eligibility && !eligibility[method].eligible;
  return (
    <section aria-label="Segment builder">
      <div className="row">
        <label>
          Audience name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Top CLV decile" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} size={40} />
        </label>
        <label>
          Evaluation method
          <select value={method} onChange={(e) => setMethod(e.target.value as Method)}>
            <option value="batch">Batch</option>
            <option value="streaming">Streaming</option>
            <option value="edge">Edge</option>
          </select>
        </label>
        <span style={{ position: 'relative' }}>
          <button type="button" aria-expanded={popover} onClick={() => setPopover(!popover)}>
            Evaluation method eligibility {eligibility ? (eligibility[method].eligible ? '✓' : '✗') : ''}
          </button>
          {popover && <EligibilityPopover eligibility={eligibility} method={method} onClose={() => setPopover(false)} />}
        </span>
      </div>
      {chosenIneligible && <p className="bad">This expression is not eligible for {method} evaluation: it would be saved as batch, or refused. Open the eligibility popover to see why.</p>}
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={view === 'builder'} onClick={() => setView('builder')}>
          Builder
        </button>
        <button type="button" role="tab" aria-selected={view === 'code'} onClick={() => setView('code')}>
          Code view (PQL)
        </button>
      </div>
      {view === 'builder' &&
        (rule ? (
          <div className="builder">
            <FieldsRail attributes={attributes.data ?? []} events={events.data ?? []} segments={segments} onAdd={(tile) => changeRule({ ...rule, root: insertInto(rule.root, target, blockOfTile(tile)) })} />
            <RuleCanvas rule={rule} onChange={changeRule} segments={segments} fields={fieldMap} target={target} onTarget={setTarget} />
          </div>
        ) : (
          <Empty>{codeNote || 'This expression can only be edited in code view.'}</Empty>
        ))}
      {view === 'code' && (
        <div>
          <textarea className="pql" aria-label="PQL" value={pql} onChange={(e) => changeCode(e.target.value)} spellCheck={false} />
          <button type="button" onClick={() => void navigator.clipboard?.writeText(pql)}>
            Copy
          </button>
          {codeNote && <p className="hint">{codeNote}</p>}
        </div>
      )}
      {view === 'builder' && pql && (
        <p className="hint">
          PQL: <code data-testid="pql">{pql}</code>
        </p>
      )}
      {validation && validation.issues.length > 0 && (
        <ul aria-label="Validation">
          {validation.issues.map((i, k) => (
            <li key={k} className={i.severity === 'error' ? 'bad' : 'hint'}>
              {i.code}: {i.message} {i.path && <small>({i.path})</small>}
            </li>
          ))}
        </ul>
      )}
      {validation && (
        <p className="hint">
          {validation.counts.blocks} of 50 building blocks · {validation.counts.sequences} of 6 sequences · {validation.counts.aggregations} of 3 aggregations
        </p>
      )}
      <div className="row">
        {editable && (
          <>
            <button type="button" onClick={() => void runEstimate()} disabled={hasErrors || estimating}>
              {estimate ? 'Refresh estimate' : 'Estimate'}
            </button>
            <button type="button" onClick={() => void save()} disabled={hasErrors || !name.trim() || saving}>
              {saving ? 'Saving…' : definition ? 'Save changes' : 'Save audience'}
            </button>
          </>
        )}
      </div>
      {estimating && <Progress fraction={0.5} label="Sampling profiles" />}
      <ErrorBox error={error} />
      {estimate && (
        <div aria-label="Estimate" data-testid="estimate">
          <p>
            Estimated profiles: <strong>{estimate.estimatedSize.toLocaleString()}</strong> ({estimate.estimatedSizeRange.low.toLocaleString()} – {estimate.estimatedSizeRange.high.toLocaleString()}, {estimate.confidenceInterval} confidence interval) · sampled {estimate.profilesReadSoFar.toLocaleString()} of {estimate.totalRows.toLocaleString()} profiles, {estimate.profilesMatchedSoFar} matched, {estimate.runtimeMs} ms
          </p>
          <button type="button" onClick={() => void viewProfiles()}>
            View profiles
          </button>
        </div>
      )}
      {preview && (preview.results.length ? <DataTable caption={`Matching profiles (${preview.page.totalCount} in the sample)`} rows={preview.results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : v])))} /> : <Empty>No sampled profile matches.</Empty>)}
    </section>
  );
}

export default function Audiences({ client, can }: ScreenProps) {
  const [tick, setTick] = useState(0);
  const list = useAsync(() => client.get<{ segments: Definition[] }>('/segment/definitions').then((r) => r.segments), [tick]);
  const [selected, setSelected] = useState<string | null>(null) /* a segment id, or 'new' */;
  const editable = can('audience:write');
  const current = list.data?.find((d) => d.id === selected);
  return (
    <div>
      <h2>Audiences</h2>
      <section aria-label="Audience list">
        <ErrorBox error={list.error} />
        {list.data?.length === 0 && <Empty>No audiences yet{editable ? ': choose “Create audience” and drag attributes or events onto the canvas.' : '.'}</Empty>}
        {list.data && list.data.length > 0 && (
          <div className="card-list">
            {list.data.map((d) => (
              <button key={d.id} type="button" className="card" aria-pressed={d.id === selected} onClick={() => setSelected(d.id)}>
                <strong>{d.name}</strong>
                <span>
                  {d.origin === 'external' ? 'external' : methodOf(d)} · {d.id}
                </span>
              </button>
            ))}
          </div>
        )}
        {editable && (
          <button type="button" onClick={() => setSelected('new')}>
            Create audience
          </button>
        )}
      </section>
      {list.data && (selected === 'new' || current) && (
        <Editor
          key={selected}
          client={client}
          definition={current}
          definitions={list.data}
          editable={editable}
          onSaved={(d) => {
            setSelected(d.id);
            setTick((t) => t + 1);
          }}
        />
      )}
      {current && <Evaluation key={current.id} client={client} definition={current} editable={editable} />}
    </div>
  );
}

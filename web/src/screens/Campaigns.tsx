/**
 * Campaigns (reference §13–§14): create a campaign for an audience with a holdout and an SMTP destination (the
 * password goes in and is never shown back), send it with progress, watch the response counts come in, and the
 * post-campaign widgets (emails opened by audience and campaign, open rate by CLV decile bucket, sent / open
 * rate / click-through big numbers, the results table) with the uplift against the holdout.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Static } from 'typebox';
import type { CampaignInput, CampaignView, RefreshResult, SendAccepted, UpliftView } from '../../../src/campaigns/payloads.ts';
import type { DefinitionView } from '../../../src/audiences/payloads.ts';
import type { ScreenProps } from '../App.tsx';
import type { Client } from '../api.ts';
import { Chart } from '../components/Chart.tsx';
import { DataTable, Empty, ErrorBox, Loading, Progress, useAsync } from '../components/ui.tsx';

type Campaign = Static<typeof CampaignView>;
type Input = Static<typeof CampaignInput>;
type Segment = Static<typeof DefinitionView>;
type Uplift = Static<typeof UpliftView>;

/** Runs the analysis calls one after another: the facts tables are created on first use, and parallel first
 * uses race in the warehouse (RT_WAREHOUSE_FAILED, write-write conflict). */
type Serial = <T>(work: () => Promise<T>) => Promise<T>;

function useSerial(): Serial {
  const tail = useRef<Promise<unknown>>(Promise.resolve());
  return <T,>(work: () => Promise<T>) => {
    const next = tail.current.then(work, work);
    tail.current = next.catch(() => undefined);
    return next;
  };
}

interface WidgetDef {
  id: string;
  title: string;
  mark: string;
  roles: Record<string, string>;
}

const DEFAULT_HTML = '<p>Hello {{person.name.firstName | there}},</p>\n<p>Our spring collection is here: <a href="https://shop.example/new">see what is new</a>.</p>\n<p><a href="{{unsubscribeUrl}}">Unsubscribe</a></p>';

function CreateCampaign({ client, segments, onCreated }: { client: Client; segments: Segment[]; onCreated: (c: Campaign) => void }) {
  const [form, setForm] = useState({ name: '', segmentId: '', host: '127.0.0.1', port: '25', from: 'Roundtrip <news@roundtrip.example>', user: '', password: '', subject: 'Hi {{person.name.firstName | there}}', html: DEFAULT_HTML, holdout: '10', sendAt: '' });
  const [error, setError] = useState<unknown>();
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Input = {
      name: form.name,
      audience: { segmentId: form.segmentId },
      smtp: { host: form.host, port: Number(form.port), from: form.from, ...(form.user ? { user: form.user } : {}), ...(form.password ? { password: form.password } : {}) },
      subject: form.subject,
      html: form.html,
      holdoutShare: Number(form.holdout) / 100,
      trackingBaseUrl: window.location.origin,
      ...(form.sendAt ? { sendAt: new Date(form.sendAt).toISOString() } : {}),
    };
    try {
      onCreated(await client.post<Campaign>('/campaigns', body));
    } catch (e) {
      setError(e);
    }
  };
  if (segments.length === 0) return <Empty>No audiences yet: build one on the Audiences screen, then come back to mail it.</Empty>;
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Create campaign" className="stack">
      <div className="row">
        <label>
          Campaign name
          <input value={form.name} onChange={set('name')} required />
        </label>
        <label>
          Audience
          <select aria-label="Audience" value={form.segmentId} onChange={set('segmentId')} required>
            <option value="">Choose an audience…</option>
            {segments.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Holdout (%)
          <input type="number" min={0} max={90} step={1} value={form.holdout} onChange={set('holdout')} />
        </label>
        <label>
          Send at (empty: send by hand)
          <input type="datetime-local" value={form.sendAt} onChange={set('sendAt')} />
        </label>
      </div>
      <fieldset>
        <legend>SMTP destination</legend>
        <div className="row">
          <label>
            Host
            <input value={form.host} onChange={set('host')} required />
          </label>
          <label>
            Port
            <input type="number" value={form.port} onChange={set('port')} required />
          </label>
          <label>
            From
            <input value={form.from} onChange={set('from')} required />
          </label>
          <label>
            User
            <input value={form.user} onChange={set('user')} autoComplete="off" />
          </label>
          <label>
            Password (stored encrypted, never shown again)
            <input type="password" value={form.password} onChange={set('password')} autoComplete="new-password" />
          </label>
        </div>
      </fieldset>
      <label>
        Subject
        <input value={form.subject} onChange={set('subject')} required />
      </label>
      <label>
        HTML body ({'{{path | fallback}}'} personalises, {'{{unsubscribeUrl}}'} places the unsubscribe link)
        <textarea className="sql" value={form.html} onChange={set('html')} required />
      </label>
      <button type="submit" disabled={!form.name || !form.segmentId}>
        Create campaign
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function barOption(rows: Record<string, unknown>[], roles: Record<string, string>): Record<string, unknown> {
  const x = roles.x!;
  const y = roles.y!;
  const color = roles.color;
  const categories = [...new Set(rows.map((r) => String(r[x])))];
  const groups = color ? [...new Set(rows.map((r) => String(r[color])))] : [y];
  return {
    tooltip: {},
    legend: { top: 0 },
    xAxis: { type: 'category', data: categories, name: x },
    yAxis: { type: 'value', name: y },
    series: groups.map((g) => ({
      name: g,
      type: 'bar',
      data: categories.map((c) => rows.filter((r) => String(r[x]) === c && (!color || String(r[color]) === g)).reduce((sum, r) => sum + Number(r[y] ?? 0), 0)),
    })),
  };
}

function PostCampaignWidget({ client, serial, widget, campaignId, tick }: { client: Client; serial: Serial; widget: WidgetDef; campaignId: string; tick: number }) {
  const data = useAsync(() => serial(() => client.get<{ rows: Record<string, unknown>[] }>(`/campaigns/widgets/${widget.id}?campaignId=${encodeURIComponent(campaignId)}`).then((r) => r.rows)), [widget.id, campaignId, tick]);
  const rows = data.data;
  let body: React.JSX.Element;
  if (!rows) body = data.error ? <ErrorBox error={data.error} /> : <Loading what={widget.title} />;
  else if (widget.mark === 'big-number') {
    const value = Number(Object.values(rows[0] ?? {})[0] ?? 0);
    const shown = /rate/.test(widget.roles.value ?? '') ? `${(value * 100).toFixed(1)} %` : value.toLocaleString();
    body = (
      <div className="big-number" data-testid={`widget-${widget.id}`}>
        {shown}
      </div>
    );
  } else if (rows.length === 0) body = <Empty>No responses yet: send the campaign, then refresh the facts.</Empty>;
  else if (widget.mark === 'table') body = <DataTable rows={rows} />;
  else body = <Chart option={barOption(rows, widget.roles)} label={widget.title} height={260} />;
  return (
    <article className="widget" style={{ gridColumn: `span ${widget.mark === 'big-number' ? 4 : 6}` }} aria-label={widget.title}>
      <h4>{widget.title}</h4>
      {body}
    </article>
  );
}

/** Uplift reads every eligible member's orders: computed when asked for, not on every refresh. */
function UpliftPanel({ client, serial, campaign }: { client: Client; serial: Serial; campaign: Campaign }) {
  const [uplift, setUplift] = useState<Uplift | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const compute = () => {
    setBusy(true);
    setError(undefined);
    serial(() => client.get<Uplift>(`/campaigns/${campaign.id}/uplift`))
      .then(setUplift, setError)
      .finally(() => setBusy(false));
  };
  if (campaign.status !== 'sent') return null;
  if (!uplift)
    return (
      <div className="row">
        <button type="button" onClick={compute} disabled={busy}>
          {busy ? 'Computing uplift…' : 'Compute uplift against the holdout'}
        </button>
        <ErrorBox error={error} />
      </div>
    );
  const u = uplift;
  // Estimates a group is too small for come back as null.
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)} %`);
  const fix = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
  return (
    <section aria-label="Uplift">
      <h4>Uplift over {u.windowDays} days (treated vs holdout, 95 % intervals)</h4>
      <DataTable
        rows={[
          { group: 'treated', profiles: u.treated.profiles, converters: u.treated.converters, 'conversion rate': pct(u.treated.conversionRate), 'revenue per profile': u.treated.revenuePerProfile.toFixed(2) },
          { group: 'holdout', profiles: u.holdout.profiles, converters: u.holdout.converters, 'conversion rate': pct(u.holdout.conversionRate), 'revenue per profile': u.holdout.revenuePerProfile.toFixed(2) },
        ]}
      />
      <p>
        Conversion difference {pct(u.conversion.difference)} [{pct(u.conversion.low)}, {pct(u.conversion.high)}]; revenue per profile {fix(u.revenuePerProfile.difference)} [{fix(u.revenuePerProfile.low)}, {fix(u.revenuePerProfile.high)}]
        {u.clvChange && `; predicted CLV change ${fix(u.clvChange.difference.difference)} [${fix(u.clvChange.difference.low)}, ${fix(u.clvChange.difference.high)}]`}
      </p>
    </section>
  );
}

function CampaignDetail({ client, campaign, editable, onChanged }: { client: Client; campaign: Campaign; editable: boolean; onChanged: () => void }) {
  const widgets = useAsync(() => client.get<{ widgets: WidgetDef[] }>('/campaigns/widgets').then((r) => r.widgets), []);
  const serial = useSerial();
  const [sending, setSending] = useState(false);
  const [result, setResult] = useState<Campaign['lastSend']>(null);
  const [refreshed, setRefreshed] = useState<Static<typeof RefreshResult> | null>(null);
  const [tick, setTick] = useState(0);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<unknown>();
  const refresh = async () => {
    setError(undefined);
    try {
      setRefreshed(await serial(() => client.post<Static<typeof RefreshResult>>('/campaigns/facts/refresh', {})));
      setTick((t) => t + 1);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (!live || !editable) return;
    const timer = setInterval(() => void refresh(), 5000);
    return () => clearInterval(timer);
  }, [live]);
  const send = async () => {
    if (!window.confirm(`Send “${campaign.name}” to its audience now?`)) return;
    setSending(true);
    setError(undefined);
    try {
      // The send runs in the background (202): follow its progress on the campaign until it ends.
      const accepted = await client.post<Static<typeof SendAccepted>>(`/campaigns/${campaign.id}/send`, {});
      for (;;) {
        const current = await client.get<Campaign>(`/campaigns/${campaign.id}`);
        if (current.lastSend?.sendId === accepted.sendId) setResult(current.lastSend);
        if (current.status !== 'sending') {
          if (current.status === 'failed') setError(new Error(current.lastSend?.error ?? 'The send stopped.'));
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await refresh();
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setSending(false);
    }
  };
  const totals = result?.totals ?? campaign.lastSend?.totals;
  return (
    <section aria-label={`Campaign ${campaign.name}`}>
      <h3>
        {campaign.name} <small data-testid="campaign-status">{campaign.status}</small>
      </h3>
      <p className="hint">
        Audience {campaign.audience.segmentId} · holdout {Math.round(campaign.holdoutShare * 100)} % · SMTP {campaign.smtp.host}:{campaign.smtp.port} {campaign.smtp.hasPassword ? '(password stored)' : ''} · from {campaign.smtp.from}
      </p>
      <div className="row">
        {editable && campaign.status !== 'sent' && (
          <button type="button" onClick={() => void send()} disabled={sending}>
            {campaign.status === 'failed' ? 'Resume sending' : 'Send now'}
          </button>
        )}
        {editable && (
          <>
            <button type="button" onClick={() => void refresh()}>
              Refresh response counts
            </button>
            <label className="check">
              <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Refresh every 5 s
            </label>
          </>
        )}
      </div>
      {sending && <Progress fraction={result?.progress.audience ? result.progress.handled / result.progress.audience : 0} label="Sending" />}
      {sending && (
        <p role="status">
          Sending through {campaign.smtp.host}… messages go out at up to {campaign.smtp.ratePerSecond} per second
          {result ? ` (${result.progress.handled}${result.progress.audience === null ? '' : ` of ${result.progress.audience}`} members handled)` : ''}.
        </p>
      )}
      <ErrorBox error={error} />
      {totals && !sending && (
        <p role="status" data-testid="send-totals">
          Sent {totals.sent} · held out {totals.heldOut} · bounced {totals.bounced} · suppressed {totals.suppressed} · no address {totals.noAddress} (of {totals.recipients})
        </p>
      )}
      {refreshed && (
        <p className="hint" data-testid="facts-refreshed">
          Facts refreshed: {refreshed.responsesAdded} new responses, {refreshed.factRows} fact rows.
        </p>
      )}
      <h4>Post-campaign analysis</h4>
      <div className="dashboard-grid">{widgets.data?.map((w) => <PostCampaignWidget key={w.id} client={client} serial={serial} widget={w} campaignId={campaign.id} tick={tick} />)}</div>
      <UpliftPanel client={client} serial={serial} campaign={campaign} />
    </section>
  );
}

export default function Campaigns({ client, can }: ScreenProps) {
  const [tick, setTick] = useState(0);
  const campaigns = useAsync(() => client.get<{ campaigns: Campaign[] }>('/campaigns').then((r) => r.campaigns), [tick]);
  const segments = useAsync(() => client.get<{ segments: Segment[] }>('/segment/definitions').then((r) => r.segments), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const editable = can('activation:write');
  const current = campaigns.data?.find((c) => c.id === selected);
  return (
    <div>
      <h2>Campaigns</h2>
      <section aria-label="Campaign list">
        <ErrorBox error={campaigns.error ?? segments.error} />
        {campaigns.data?.length === 0 && <Empty>No campaigns yet{editable ? ': create one for an audience, with a holdout to measure what it did.' : '; a marketer creates them.'}</Empty>}
        {campaigns.data && campaigns.data.length > 0 && (
          <div className="card-list">
            {campaigns.data.map((c) => (
              <button key={c.id} type="button" className="card" aria-pressed={c.id === selected} onClick={() => setSelected(c.id)}>
                <strong>{c.name}</strong>
                <span>
                  {c.status} · holdout {Math.round(c.holdoutShare * 100)} %{c.lastSend ? ` · ${c.lastSend.totals.sent} sent` : ''}
                </span>
              </button>
            ))}
          </div>
        )}
        {editable && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            New campaign
          </button>
        )}
        {editable && creating && segments.data && (
          <CreateCampaign
            client={client}
            segments={segments.data}
            onCreated={(c) => {
              setCreating(false);
              setSelected(c.id);
              setTick((t) => t + 1);
            }}
          />
        )}
      </section>
      {current && <CampaignDetail key={current.id} client={client} campaign={current} editable={editable} onChanged={() => setTick((t) => t + 1)} />}
    </div>
  );
}

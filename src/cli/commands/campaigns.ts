/**
 * `roundtrip campaign …`: create a campaign (SMTP, template, holdout), list campaigns, send one (the API runs the
 * send in the background; the command follows its progress until it ends unless `--no-wait`), show a campaign's
 * status and totals, refresh the post-campaign facts (CampaignInsights), and print the uplift against the
 * holdout. Everything goes through the `/campaigns` API.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import type { Printer } from '../output.ts';

interface Totals {
  recipients: number;
  sent: number;
  bounced: number;
  heldOut: number;
  suppressed: number;
  noAddress: number;
  unconfirmed: number;
  sending: number;
}

interface Campaign {
  id: string;
  name: string;
  status: string;
  audience: { segmentId: string };
  holdoutShare: number;
  sendAt: string | null;
  lastSend: { sendId: string; resumedFrom: string | null; startedAt: string; endedAt: string | null; totals: Totals; progress: { audience: number | null; handled: number }; error: string | null } | null;
}

interface Interval {
  difference: number | null;
  low: number | null;
  high: number | null;
}

interface Uplift {
  windowDays: number;
  treated: { profiles: number; converters: number; conversionRate: number; revenue: number; revenuePerProfile: number };
  holdout: { profiles: number; converters: number; conversionRate: number; revenue: number; revenuePerProfile: number };
  conversion: Interval;
  revenuePerProfile: Interval;
  clvChange: { profiles: number; difference: Interval } | null;
}

interface CreateFlags {
  file?: string;
  name?: string;
  segment?: string;
  mergePolicy?: string;
  smtpHost?: string;
  smtpPort?: string;
  smtpUser?: string;
  smtpPassword?: string;
  from?: string;
  rate?: string;
  subject?: string;
  html?: string;
  htmlFile?: string;
  holdout?: string;
  sendAt?: string;
  trackingUrl?: string;
  attributionDays?: string;
}

const number = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new RoundtripError('RT_REQUEST_INVALID', `${flag} takes a number, not "${value}".`);
  return n;
};

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The request body: a JSON file, or the flags (flags override the file's fields). */
function createBody(f: CreateFlags): Record<string, unknown> {
  const fromFile = f.file ? (JSON.parse(readFileSync(f.file, 'utf8')) as Record<string, unknown>) : {};
  const smtp = defined({
    ...((fromFile.smtp as Record<string, unknown> | undefined) ?? {}),
    ...defined({ host: f.smtpHost, port: number('--smtp-port', f.smtpPort), user: f.smtpUser, password: f.smtpPassword, from: f.from, ratePerSecond: number('--rate', f.rate) }),
  });
  const html = f.htmlFile ? readFileSync(f.htmlFile, 'utf8') : f.html;
  const body: Record<string, unknown> = {
    ...fromFile,
    ...defined({
      name: f.name,
      subject: f.subject,
      html,
      holdoutShare: number('--holdout', f.holdout),
      sendAt: f.sendAt,
      trackingBaseUrl: f.trackingUrl,
      attributionDays: number('--attribution-days', f.attributionDays),
    }),
    ...(f.segment ? { audience: defined({ segmentId: f.segment, mergePolicyId: f.mergePolicy }) } : {}),
    smtp,
  };
  for (const field of ['name', 'audience', 'subject', 'html'] as const) {
    if (body[field] === undefined) throw new RoundtripError('RT_REQUEST_INVALID', `A campaign needs ${field === 'audience' ? '--segment' : `--${field}`} (or a --file with it).`);
  }
  return body;
}

const path = (id: string) => `/campaigns/${encodeURIComponent(id)}`;

function printStatus(c: Campaign, out: Printer): void {
  const s = c.lastSend;
  console.log(`${c.id} "${c.name}": ${c.status}${s ? ` (send ${s.sendId}${s.resumedFrom ? `, resuming ${s.resumedFrom}` : ''}, ${s.progress.handled}${s.progress.audience === null ? '' : `/${s.progress.audience}`} members handled)` : ''}`);
  if (s) out.rows([{ ...s.totals }]);
  if (s?.error) console.log(`error: ${s.error}`);
}

/** Follows a background send until the campaign is no longer `sending`. */
async function follow(api: ApiClient, id: string): Promise<Campaign> {
  for (;;) {
    const c = await api.request<Campaign>('GET', path(id));
    if (c.status !== 'sending') return c;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)} %`);
const money = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));

export function campaignCommands(program: Command, ctx: CliContext): void {
  const campaign = program.command('campaign').description('Campaigns: SMTP sends with a holdout, their progress, post-campaign facts and uplift');

  campaign
    .command('create')
    .description('Create a campaign from flags or a JSON file (the body of POST /campaigns)')
    .option('--file <file>', 'JSON body; flags override its fields')
    .option('--name <name>', 'campaign name')
    .option('--segment <id>', 'audience (segment id)')
    .option('--merge-policy <id>', 'merge policy (default: the sandbox default)')
    .option('--smtp-host <host>', 'SMTP server')
    .option('--smtp-port <port>', 'SMTP port')
    .option('--smtp-user <user>', 'SMTP user')
    .option('--smtp-password <password>', 'SMTP password (stored encrypted, never shown)')
    .option('--from <address>', 'From address, e.g. "Skylark <news@skylark.example>"')
    .option('--rate <n>', 'messages per second at most')
    .option('--subject <text>', 'subject template')
    .option('--html <html>', 'HTML template')
    .option('--html-file <file>', 'read the HTML template from a file')
    .option('--holdout <share>', 'share of the audience held out, e.g. 0.1')
    .option('--send-at <time>', 'ISO date-time: scheduled for the campaign.send job')
    .option('--tracking-url <url>', 'public URL of this server for pixels and links')
    .option('--attribution-days <n>', 'attribution window in days')
    .action((flags: CreateFlags) =>
      ctx.withClient(async (api, out) => {
        const c = await api.request<Campaign>('POST', '/campaigns', createBody(flags));
        if (out.json) return out.value(c);
        console.log(`Created campaign ${c.id} "${c.name}" (${c.status}) for audience ${c.audience.segmentId}, holdout ${Math.round(c.holdoutShare * 100)} %`);
      }),
    );

  campaign
    .command('list')
    .description('Campaigns of the sandbox')
    .action(() =>
      ctx.withClient(async (api, out) => {
        const { campaigns } = await api.request<{ campaigns: Campaign[] }>('GET', '/campaigns');
        if (out.json) return out.value(campaigns);
        out.rows(campaigns.map((c) => ({ id: c.id, name: c.name, status: c.status, audience: c.audience.segmentId, holdout: c.holdoutShare, sent: c.lastSend?.totals.sent ?? 0, sendAt: c.sendAt ?? '' })));
      }),
    );

  campaign
    .command('send <id>')
    .description('Send now (or resume a stopped send) and follow it to the end')
    .option('--no-wait', 'return once the send is accepted (GET status follows it)')
    .action((id: string, opts: { wait: boolean }) =>
      ctx.withClient(async (api, out) => {
        const accepted = await api.request<{ sendId: string; resumedFrom: string | null }>('POST', `${path(id)}/send`);
        const c = opts.wait ? await follow(api, id) : await api.request<Campaign>('GET', path(id));
        if (out.json) return out.value({ ...accepted, campaign: c });
        console.log(`Send ${accepted.sendId} accepted${accepted.resumedFrom ? ` (resumes ${accepted.resumedFrom})` : ''}`);
        printStatus(c, out);
        if (c.status === 'failed') process.exitCode = 1;
      }),
    );

  campaign
    .command('status <id>')
    .description("A campaign's status, send progress and totals")
    .action((id: string) =>
      ctx.withClient(async (api, out) => {
        const c = await api.request<Campaign>('GET', path(id));
        if (out.json) return out.value(c);
        printStatus(c, out);
      }),
    );

  campaign
    .command('refresh')
    .description('Refresh the post-campaign facts (CampaignInsights, qsaccel.campaign_agg) incrementally')
    .option('--orders-dataset <name>', 'orders dataset for attribution (default Orders)')
    .action((opts: { ordersDataset?: string }) =>
      ctx.withClient(async (api, out) => {
        const r = await api.request<{ campaigns: string[]; responsesAdded: number; factRows: number; consentUpdates: number; tablesWritten: string[] }>(
          'POST',
          '/campaigns/facts/refresh',
          defined({ ordersDataset: opts.ordersDataset }),
        );
        if (out.json) return out.value(r);
        console.log(`${r.responsesAdded} new responses, ${r.consentUpdates} consent updates; recomputed ${r.campaigns.length ? r.campaigns.join(', ') : 'no campaign'} (${r.factRows} fact rows)`);
        if (r.tablesWritten.length) console.log(`wrote ${r.tablesWritten.join(', ')}`);
      }),
    );

  campaign
    .command('uplift <id>')
    .description('Conversion and revenue per member, treated vs holdout, with 95 % intervals; change in predicted CLV')
    .option('--window-days <n>', 'orders within this many days after the send')
    .option('--orders-dataset <name>', 'orders dataset (default Orders)')
    .action((id: string, opts: { windowDays?: string; ordersDataset?: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams(defined({ windowDays: number('--window-days', opts.windowDays), ordersDataset: opts.ordersDataset }) as Record<string, string>).toString();
        const u = await api.request<Uplift>('GET', `${path(id)}/uplift${query ? `?${query}` : ''}`);
        if (out.json) return out.value(u);
        out.rows(
          (['treated', 'holdout'] as const).map((group) => ({ group, profiles: u[group].profiles, converters: u[group].converters, 'conversion rate': pct(u[group].conversionRate), revenue: money(u[group].revenue), 'revenue/profile': money(u[group].revenuePerProfile) })),
        );
        console.log(`Over ${u.windowDays} days: conversion ${pct(u.conversion.difference)} [${pct(u.conversion.low)}, ${pct(u.conversion.high)}]; revenue per profile ${money(u.revenuePerProfile.difference)} [${money(u.revenuePerProfile.low)}, ${money(u.revenuePerProfile.high)}]`);
        if (u.clvChange) console.log(`Predicted CLV change (${u.clvChange.profiles} profiles): ${money(u.clvChange.difference.difference)} [${money(u.clvChange.difference.low)}, ${money(u.clvChange.difference.high)}]`);
      }),
    );
}

/**
 * Act (demo steps 9-10): one audience activated to a local-folder destination (a full CSV export, consent and
 * mandatory email applied by activation), and a win-back campaign mailed through SMTP with a 10 % holdout to a
 * local SMTP sink the demo starts on loopback; opens and clicks are then simulated by fetching the pixels and
 * links of the received messages from the server's tracking routes over real HTTP, as a mail client would.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startSmtpSink, type ReceivedMail } from '../campaigns/smtp-sink.ts';
import { RoundtripError } from '../core/errors.ts';
import { mix32 } from '../synthetic/random.ts';
import { AT_RISK_KEY } from './audiences.ts';
import { api, need, type Audience, type DemoContext, type Step } from './context.ts';

/** The audience each action uses: the largest top-decile audience is exported, the at-risk one mailed. */
export function exportedAudience(audiences: readonly Audience[]): Audience | undefined {
  return audiences.filter((a) => a.key.startsWith('top-')).sort((a, b) => b.members - a.members)[0];
}

export const EXPORT_FIELDS = [
  { source: { attribute: 'personalEmail.address' }, target: 'email', mandatory: true },
  { source: { attribute: 'person.name.firstName' }, target: 'firstName' },
  { source: { attribute: 'loyalty.tier' }, target: 'tier' },
];

interface RunView {
  status: string;
  profiles?: number;
  files?: number;
  skipped?: Record<string, number>;
  errorCode?: string | null;
  errorMessage?: string | null;
}

/** Data rows of the CSV files in a folder (header lines excluded). */
export function csvRows(folder: string): number {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.csv'))
    .reduce((sum, f) => sum + readFileSync(path.join(folder, f), 'utf8').split('\n').filter((l) => l.length > 0).length - 1, 0);
}

export const activateStep: Step = {
  name: 'activate',
  title: 'Activate an audience to a local folder',
  fix: 'Check that the data directory is writable; `GET /activation/dataflows/{id}/runs` has the run and its error.',
  async run(ctx) {
    const audience = exportedAudience(ctx.state.audiences);
    if (!audience) throw new RoundtripError('RT_DEMO_STEP_FAILED', 'The audiences step made no top-decile audience to activate.');
    const folder = path.join(ctx.options.dataDir, 'exports');
    mkdirSync(folder, { recursive: true });
    const account = await api<{ id: string }>(ctx, 'POST', '/destinations/accounts', { name: 'Demo ESP drop folder', type: 'local-folder', params: { folder } });
    const dataflow = await api<{ id: string }>(ctx, 'POST', '/activation/dataflows', {
      name: `${audience.name} → folder`,
      destinationId: account.id,
      audiences: [{ segmentId: audience.id, schedule: { exportType: 'full', frequency: 'once', startDate: new Date().toISOString().slice(0, 10) } }],
      fields: EXPORT_FIELDS,
    });
    const run = await api<RunView>(ctx, 'POST', `/activation/dataflows/${dataflow.id}/runs`, {});
    if (run.status !== 'succeeded') throw new RoundtripError((run.errorCode ?? 'RT_ACTIVATION_RUN_FAILED') as 'RT_INTERNAL', `The activation run ended ${run.status}: ${run.errorMessage ?? ''}`);
    ctx.state.exportFolder = folder;
    const skipped = run.skipped ?? {};
    return {
      counts: { members: audience.members, exported: run.profiles ?? 0, fileRows: csvRows(folder), files: run.files ?? 0, skippedConsent: skipped.consent ?? 0, skippedNoEmail: skipped.missingMandatory ?? 0 },
      note: `${audience.key} → ${folder}`,
    };
  },
};

// ---- the campaign -----------------------------------------------------------------------------------------

export const OPEN_RATE = 0.35;
export const CLICK_RATE = 0.3;
export const HOLDOUT_SHARE = 0.1;
const CLIENT = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/** A reproducible draw in [0, 1) per message and purpose. */
function draw(seed: number, index: number, salt: number): number {
  return mix32(mix32(seed ^ Math.imul(index + 1, 0x9e3779b9)) ^ salt) / 2 ** 32;
}

/** The tracking URLs in a received message: its open pixel and its click links. */
export function trackingUrls(mail: ReceivedMail): { pixel?: string; clicks: string[] } {
  const urls = [...mail.html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  return { pixel: urls.find((u) => u.includes('/t/o/')), clicks: urls.filter((u) => u.includes('/t/c/')) };
}

async function hit(url: string): Promise<void> {
  const response = await fetch(url, { redirect: 'manual', headers: { 'user-agent': CLIENT } });
  await response.arrayBuffer();
  if (response.status !== 200 && response.status !== 302) throw new RoundtripError('RT_TRACKING_TOKEN_INVALID', `GET ${new URL(url).pathname.slice(0, 12)}… answered ${response.status}.`);
}

/** Opens some received messages and clicks in some of the opened ones, a few requests at a time. */
export async function simulateResponses(ctx: DemoContext, mails: readonly ReceivedMail[]): Promise<{ opens: number; clicks: number }> {
  const hits: string[] = [];
  let opens = 0;
  let clicks = 0;
  mails.forEach((mail, i) => {
    const { pixel, clicks: links } = trackingUrls(mail);
    if (!pixel || draw(ctx.options.seed, i, 1) >= OPEN_RATE) return;
    hits.push(pixel);
    opens++;
    if (links.length && draw(ctx.options.seed, i, 2) < CLICK_RATE) {
      hits.push(links[0]!);
      clicks++;
    }
  });
  for (let start = 0; start < hits.length; start += 16) await Promise.all(hits.slice(start, start + 16).map(hit));
  return { opens, clicks };
}

interface SendAnswer {
  campaignId: string;
  status: string;
  totals: { recipients: number; sent: number; bounced: number; heldOut: number; suppressed: number; noAddress: number };
}

export const campaignStep: Step = {
  name: 'campaign',
  title: 'Mail a win-back campaign (SMTP, holdout) and simulate opens and clicks',
  fix: 'The SMTP sink runs on loopback: check that 127.0.0.1 accepts local connections; `GET /campaigns/{id}` has the last send and its error.',
  async run(ctx) {
    const audience = ctx.state.audiences.find((a) => a.key === AT_RISK_KEY);
    if (!audience) throw new RoundtripError('RT_DEMO_STEP_FAILED', 'The audiences step made no at-risk audience to mail.');
    const sink = await startSmtpSink();
    try {
      const campaign = await api<{ id: string }>(ctx, 'POST', '/campaigns', {
        name: 'We miss you',
        audience: { segmentId: audience.id },
        smtp: { host: '127.0.0.1', port: sink.port, from: 'Skylark Outfitters <news@skylark.example>', ratePerSecond: 10_000, maxConnections: 4 },
        subject: 'We miss you, {{person.name.firstName | traveller}}',
        html:
          '<p>Hello {{person.name.firstName | traveller}},</p><p>Your next trip deserves new gear: 20 % off this week.</p>' +
          '<p><a href="https://shop.skylark.example/new-season">See the new season</a></p>' +
          '<p><a href="{{unsubscribeUrl}}">Unsubscribe</a></p>',
        holdoutShare: HOLDOUT_SHARE,
        trackingBaseUrl: need(ctx, 'baseUrl'),
      });
      const sent = await api<SendAnswer>(ctx, 'POST', `/campaigns/${campaign.id}/send?wait=true`, {});
      ctx.progress(`  ${sent.totals.sent.toLocaleString('en')} messages delivered to the sink; simulating responses`);
      const { opens, clicks } = await simulateResponses(ctx, sink.mails);
      // Tracking hits go through the streaming log; apply them before the facts read the dataset.
      await need(ctx, 'platform').streaming.flush();
      const t = sent.totals;
      ctx.state.campaign = { id: campaign.id, segmentId: audience.id, sent: t.sent, heldOut: t.heldOut, suppressed: t.suppressed, noAddress: t.noAddress, received: sink.mails.length, opens, clicks };
      return { counts: { members: audience.members, heldOut: t.heldOut, suppressed: t.suppressed, noAddress: t.noAddress, sent: t.sent, received: sink.mails.length, opens, clicks }, note: `campaign ${campaign.id}` };
    } finally {
      await sink.close();
    }
  },
};

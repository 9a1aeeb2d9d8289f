/**
 * Dashboards end to end over HTTP on a real platform: a custom data model built with the reference's SQL
 * (accelerated store, keys NOT ENFORCED) and read through the real insights API, guided and query pro widgets,
 * the widget cap, layout rules, duplicate/rename/delete, exports (CSV, SVG, PNG decoded to pixels, PDF),
 * roles, and the standard CLV dashboards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { NODES } from '../identity/store.ts';
import { crmRecord, setupDatasets, write } from '../profile/test-kit.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { PALETTE } from './chart.ts';
import { CLV_STANDARD_DASHBOARDS } from './standard.ts';

const audiencesDefinition = () => CLV_STANDARD_DASHBOARDS.find((d) => d.key === 'audiences')!.build();

const MODEL_SQL = `
CREATE DATABASE shop WITH (TYPE=QSACCEL, ACCOUNT=acp_query_batch);
CREATE SCHEMA shop.sales;
CREATE TABLE shop.sales.fact_orders (date_key DATE, region_id INTEGER, tier_id INTEGER, channel_id INTEGER, orders BIGINT, revenue DOUBLE);
CREATE TABLE shop.sales.dim_region (region_id INTEGER, region_name VARCHAR);
CREATE TABLE shop.sales.dim_tier (tier_id INTEGER, tier_name VARCHAR);
CREATE TABLE shop.sales.dim_channel (channel_id INTEGER, channel_name VARCHAR);
INSERT INTO shop.sales.dim_region VALUES (1, 'North'), (2, 'South');
INSERT INTO shop.sales.dim_tier VALUES (1, 'Gold'), (2, 'Silver');
INSERT INTO shop.sales.dim_channel VALUES (1, 'Email');
INSERT INTO shop.sales.fact_orders VALUES
  ('2024-03-01', 1, 1, 1, 10, 100), ('2024-03-01', 1, 2, 1, 5, 40), ('2024-03-01', 2, 1, 1, 7, 70),
  ('2024-03-02', 1, 1, 1, 12, 120), ('2024-03-02', 1, 2, 1, 6, 50), ('2024-03-02', 2, 1, 1, 8, 80),
  ('2024-03-02', 2, 2, 1, 3, 20), ('2024-03-02', 1, 1, 1, 1, 10);
ALTER TABLE shop.sales.dim_region ADD PRIMARY KEY (region_id) NOT ENFORCED;
ALTER TABLE shop.sales.dim_tier ADD PRIMARY KEY (tier_id) NOT ENFORCED;
ALTER TABLE shop.sales.dim_channel ADD PRIMARY KEY (channel_id) NOT ENFORCED;
ALTER TABLE shop.sales.fact_orders ADD CONSTRAINT FOREIGN KEY (region_id) REFERENCES shop.sales.dim_region (region_id) NOT ENFORCED;
ALTER TABLE shop.sales.fact_orders ADD CONSTRAINT FOREIGN KEY (tier_id) REFERENCES shop.sales.dim_tier (tier_id) NOT ENFORCED;
ALTER TABLE shop.sales.fact_orders ADD CONSTRAINT FOREIGN KEY (channel_id) REFERENCES shop.sales.dim_channel (channel_id) NOT ENFORCED;
`;

const GUIDED = {
  model: 'shop.sales',
  table: 'fact_orders',
  x: 'dim_region.region_name',
  y: { attribute: 'revenue', aggregation: 'sum' },
  color: 'tier_name',
  dateFilter: { mode: 'recent' },
  marks: 'bars',
};

const PRO_SQL = `SELECT r.region_name, sum(f.orders) AS orders, sum(f.revenue) AS revenue
FROM shop.sales.fact_orders f JOIN shop.sales.dim_region r ON f.region_id = r.region_id
WHERE f.date_key BETWEEN '$START_DATE' AND '$END_DATE' AND f.tier_id IN ($TIER_FILTER)
GROUP BY r.region_name ORDER BY r.region_name`;

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what resvg writes) into RGBA pixels. */
function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : assert.fail(`colour type ${data[9]}`);
    }
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  let previous = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const current = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? current[i - channels]! : 0;
      const b = previous[i]!;
      const c = i >= channels ? previous[i - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter]!;
      current[i] = (line[i]! + predictor) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 4; k++) out[(y * width + x) * 4 + k] = k < channels ? current[x * channels + k]! : 255;
    }
    previous = current;
  }
  return { width, height, rgba: out };
}

describe('dashboards', () => {
  let t: TestPlatform;
  let viewer: string;
  let analyst: string;

  const raw = async (url: string, token?: string) => {
    const response = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token ?? t.adminToken}` } });
    return { status: response.statusCode, type: String(response.headers['content-type']), body: response.rawPayload, text: response.body };
  };

  before(async () => {
    t = await createTestPlatform();
    for (const statement of MODEL_SQL.split(';').map((s) => s.trim()).filter(Boolean)) {
      await t.platform.queries.execute(LOCAL_OPERATOR, 'prod', statement, { client: 'api' });
    }
    viewer = (await t.platform.apiKeys.create(LOCAL_OPERATOR, { name: 'viewer', role: 'viewer', sandboxes: ['*'] })).token;
    analyst = (await t.platform.apiKeys.create(LOCAL_OPERATOR, { name: 'analyst', role: 'analyst', sandboxes: ['*'] })).token;
  });
  after(async () => t?.dispose());

  it('compiles a guided widget over a fact with two dimensions to the expected SQL and data', async () => {
    const created = await t.call('POST', '/dashboards', { body: { name: 'Sales', widgets: [{ title: 'Revenue by region and tier', guided: GUIDED, properties: { legend: { placement: 'bottom', title: 'Tier' } } }] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const widget = created.body.widgets[0];
    assert.deepEqual(widget.layout, { x: 0, y: 0, w: 6, h: 4 }, 'placed at the first free spot');
    const data = await t.call('GET', `/dashboards/${created.body.id}/widgets/${widget.id}/data`);
    assert.equal(data.status, 200, JSON.stringify(data.body));
    assert.equal(
      data.body.sql,
      [
        'SELECT dim_region.region_name AS region_name, dim_tier.tier_name AS tier_name, sum(fact_orders.revenue) AS sum_revenue',
        'FROM shop.sales.fact_orders AS fact_orders',
        'LEFT OUTER JOIN shop.sales.dim_region AS dim_region ON dim_region.region_id = fact_orders.region_id',
        'LEFT OUTER JOIN shop.sales.dim_tier AS dim_tier ON dim_tier.tier_id = fact_orders.tier_id',
        'WHERE fact_orders.date_key = (SELECT max(date_key) FROM shop.sales.fact_orders)',
        'GROUP BY dim_region.region_name, dim_tier.tier_name',
        'ORDER BY region_name, tier_name',
      ].join('\n'),
    );
    assert.deepEqual(data.body.columns.map((c: Json) => c.name), ['region_name', 'tier_name', 'sum_revenue']);
    assert.deepEqual(data.body.rows, [
      { region_name: 'North', tier_name: 'Gold', sum_revenue: 130 },
      { region_name: 'North', tier_name: 'Silver', sum_revenue: 50 },
      { region_name: 'South', tier_name: 'Gold', sum_revenue: 80 },
      { region_name: 'South', tier_name: 'Silver', sum_revenue: 20 },
    ]);
    assert.deepEqual(data.body.chart.xAxis.data, ['North', 'South']);
    assert.deepEqual(data.body.chart.series.map((s: Json) => [s.type, s.name, s.data]), [['bar', 'Gold', [130, 80]], ['bar', 'Silver', [50, 20]]]);
    assert.equal(data.body.chart.legend.bottom, 4);

    // Chosen dates and a value filter; the preview runs without saving.
    const preview = await t.call('POST', '/dashboards/preview', {
      body: { widget: { title: 'p', guided: { ...GUIDED, color: undefined, dateFilter: { mode: 'dates', dates: ['2024-03-01'] }, filters: [{ attribute: 'tier_name', include: ['Gold'] }] } } },
    });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.deepEqual(preview.body.rows, [{ region_name: 'North', sum_revenue: 100 }, { region_name: 'South', sum_revenue: 70 }]);

    const bad = await t.call('POST', `/dashboards/${created.body.id}/widgets`, { body: { title: 'bad', guided: { ...GUIDED, x: 'dim_region.nope' } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'RT_DASHBOARD_WIDGET_INVALID');
    const wrongMode = await t.call('POST', `/dashboards/${created.body.id}/widgets`, { body: { title: 'sql', queryPro: { sql: 'SELECT 1 AS x', marks: 'big-number' } } });
    assert.equal(wrongMode.body.error.code, 'RT_DASHBOARD_WIDGET_INVALID');
  });

  it('runs query pro widgets with $START_DATE/$END_DATE and global filters (column and parameter links), tables sorted', async () => {
    const created = await t.call('POST', '/dashboards', {
      body: {
        name: 'Pro',
        mode: 'query-pro',
        dateRange: { start: '2024-03-02', end: '2024-03-02' },
        filters: [
          { id: 'region', label: 'Region', sql: 'SELECT region_name AS id, region_name AS value FROM shop.sales.dim_region ORDER BY 1' },
          { id: 'tier', label: 'Tier', sql: 'SELECT tier_id AS id, tier_name AS value FROM shop.sales.dim_tier ORDER BY 1', selected: [1, 2] },
        ],
        widgets: [
          {
            title: 'Orders',
            queryPro: { sql: PRO_SQL, marks: 'bar', encoding: { x: 'region_name', y: ['orders'] }, filterLinks: [{ filterId: 'region', column: 'region_name' }, { filterId: 'tier', param: 'TIER_FILTER' }] },
          },
          {
            title: 'Detail',
            queryPro: { sql: PRO_SQL, marks: 'table', table: { sortable: ['region_name', 'revenue'], defaultSort: { column: 'revenue', direction: 'desc' } }, filterLinks: [{ filterId: 'tier', param: 'TIER_FILTER' }] },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const [bars, table] = created.body.widgets;
    const url = (w: Json, q = '') => `/dashboards/${created.body.id}/widgets/${w.id}/data${q}`;

    const defaults = await t.call('GET', url(bars));
    assert.equal(defaults.status, 200, JSON.stringify(defaults.body));
    assert.match(defaults.body.sql, /BETWEEN '2024-03-02' AND '2024-03-02' AND f\.tier_id IN \(1, 2\)/);
    assert.deepEqual(defaults.body.rows.map((r: Json) => [r.region_name, r.orders]), [['North', 19], ['South', 11]]);
    assert.deepEqual(defaults.body.chart.series[0].data, [19, 11]);

    const q = `?start=2024-03-01&end=2024-03-01&filters=${encodeURIComponent(JSON.stringify({ region: ['South'], tier: [1] }))}`;
    const filtered = await t.call('GET', url(bars, q));
    assert.equal(filtered.status, 200, JSON.stringify(filtered.body));
    assert.deepEqual(filtered.body.rows.map((r: Json) => [r.region_name, r.orders]), [['South', 7]]);

    const sorted = await t.call('GET', url(table));
    assert.deepEqual(sorted.body.rows.map((r: Json) => r.revenue), [180, 100], 'default sort: revenue desc');
    assert.deepEqual(sorted.body.table.sort, { column: 'revenue', direction: 'desc' });
    const resorted = await t.call('GET', url(table, '?sort=region_name&direction=desc'));
    assert.deepEqual(resorted.body.rows.map((r: Json) => r.region_name), ['South', 'North']);
    assert.equal((await t.call('GET', url(table, '?sort=orders'))).status, 400, 'orders is not sortable');

    const values = await t.call('GET', `/dashboards/${created.body.id}/filters/tier/values`);
    assert.deepEqual(values.body.values, [{ id: 1, value: 'Gold' }, { id: 2, value: 'Silver' }]);
    const unknown = await t.call('GET', url(bars, `?filters=${encodeURIComponent('{"nope":[1]}')}`));
    assert.equal(unknown.body.error.code, 'RT_DASHBOARD_FILTER_INVALID');
  });

  it('caps a dashboard at 10 widgets with a stable error code', async () => {
    const d = (await t.call('POST', '/dashboards', { body: { name: 'Full' } })).body;
    for (let i = 0; i < 10; i++) {
      const added = await t.call('POST', `/dashboards/${d.id}/widgets`, { body: { title: `w${i}`, guided: GUIDED } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const eleventh = await t.call('POST', `/dashboards/${d.id}/widgets`, { body: { title: 'w10', guided: GUIDED } });
    assert.equal(eleventh.status, 409);
    assert.equal(eleventh.body.error.code, 'RT_DASHBOARD_WIDGET_LIMIT');
    const full = (await t.call('GET', `/dashboards/${d.id}`)).body;
    assert.equal(full.widgets.length, 10);
    const copy = await t.call('POST', `/dashboards/${d.id}/widgets/${full.widgets[0].id}/duplicate`);
    assert.equal(copy.body.error.code, 'RT_DASHBOARD_WIDGET_LIMIT');
    const tooMany = await t.call('POST', '/dashboards', { body: { name: 'x', widgets: Array.from({ length: 11 }, (_, i) => ({ title: `w${i}`, guided: GUIDED })) } });
    assert.equal(tooMany.body.error.code, 'RT_DASHBOARD_WIDGET_LIMIT');
  });

  it('duplicates, renames and deletes dashboards and widgets; refuses overlapping or off-grid layouts', async () => {
    const d = (await t.call('POST', '/dashboards', { body: { name: 'Original', widgets: [{ title: 'a', guided: GUIDED }, { title: 'b', guided: GUIDED, layout: { x: 0, y: 4, w: 12, h: 3 } }] } })).body;
    const [a, b] = d.widgets;
    assert.deepEqual(b.layout, { x: 0, y: 4, w: 12, h: 3 });

    const dup = await t.call('POST', `/dashboards/${d.id}/duplicate`, { body: {} });
    assert.equal(dup.status, 201);
    assert.equal(dup.body.name, 'Original (copy)');
    assert.equal(dup.body.widgets.length, 2);
    assert.notEqual(dup.body.widgets[0].id, a.id);
    assert.deepEqual(dup.body.widgets.map((w: Json) => w.layout), [a.layout, b.layout]);

    const renamed = await t.call('PATCH', `/dashboards/${dup.body.id}`, { body: { name: 'Renamed' } });
    assert.equal(renamed.body.name, 'Renamed');
    assert.equal((await t.call('GET', `/dashboards/${d.id}`)).body.name, 'Original', 'the original is untouched');

    const wcopy = await t.call('POST', `/dashboards/${d.id}/widgets/${a.id}/duplicate`);
    assert.equal(wcopy.status, 201);
    assert.deepEqual(wcopy.body.layout, { x: 6, y: 0, w: 6, h: 4 });

    const overlap = await t.call('PUT', `/dashboards/${d.id}/layout`, { body: { widgets: [{ id: a.id, layout: { x: 4, y: 0, w: 4, h: 4 } }] } });
    assert.equal(overlap.status, 400);
    assert.equal(overlap.body.error.code, 'RT_DASHBOARD_LAYOUT_INVALID');
    const offGrid = await t.call('PUT', `/dashboards/${d.id}/layout`, { body: { widgets: [{ id: b.id, layout: { x: 6, y: 8, w: 7, h: 2 } }] } });
    assert.equal(offGrid.body.error.code, 'RT_DASHBOARD_LAYOUT_INVALID');
    const moved = await t.call('PUT', `/dashboards/${d.id}/layout`, { body: { widgets: [{ id: b.id, layout: { x: 0, y: 7, w: 12, h: 2 } }, { id: a.id, layout: { x: 0, y: 0, w: 6, h: 7 } }] } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.deepEqual(moved.body.widgets.find((w: Json) => w.id === b.id).layout, { x: 0, y: 7, w: 12, h: 2 });

    assert.equal((await t.call('DELETE', `/dashboards/${d.id}/widgets/${a.id}`)).status, 204);
    assert.equal((await t.call('GET', `/dashboards/${d.id}/widgets/${a.id}`)).body.error.code, 'RT_DASHBOARD_WIDGET_NOT_FOUND');
    assert.equal((await t.call('DELETE', `/dashboards/${d.id}`)).status, 204);
    assert.equal((await t.call('GET', `/dashboards/${d.id}`)).body.error.code, 'RT_DASHBOARD_NOT_FOUND');
    assert.equal((await t.call('GET', `/dashboards/${dup.body.id}`)).status, 200, 'the copy stays');
  });

  it('exports CSV, SVG, a PNG with real pixels, and a one-page PDF', async () => {
    const d = (
      await t.call('POST', '/dashboards', {
        body: {
          name: 'Exports',
          widgets: [
            { title: 'Revenue, by region', guided: GUIDED, layout: { x: 0, y: 0, w: 8, h: 5 } },
            { title: 'Orders', guided: { ...GUIDED, y: { attribute: 'orders' }, color: undefined, marks: 'lines' }, layout: { x: 8, y: 0, w: 4, h: 5 } },
          ],
        },
      })
    ).body;
    const base = `/dashboards/${d.id}/widgets/${d.widgets[0].id}/export`;

    const csv = await raw(`${base}?format=csv`);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv/);
    assert.equal(csv.text, 'region_name,tier_name,sum_revenue\r\nNorth,Gold,130\r\nNorth,Silver,50\r\nSouth,Gold,80\r\nSouth,Silver,20\r\n');

    const svg = await raw(`${base}?format=svg`);
    assert.match(svg.type, /^image\/svg\+xml/);
    assert.match(svg.text, /^<svg[^>]*width="640"[^>]*height="400"/);
    assert.match(svg.text, /Revenue, by region/);

    const png = await raw(`${base}?format=png`, viewer);
    assert.equal(png.status, 200);
    assert.equal(png.type, 'image/png');
    const image = decodePng(png.body);
    assert.deepEqual([image.width, image.height], [640, 400]);
    let nonWhite = 0;
    let firstSeries = 0; // pixels of the first palette colour: the Gold bars
    const [pr, pg, pb] = [1, 3, 5].map((i) => parseInt(PALETTE[0]!.slice(i, i + 2), 16)) as [number, number, number];
    for (let i = 0; i < image.rgba.length; i += 4) {
      const [r, g, b] = [image.rgba[i]!, image.rgba[i + 1]!, image.rgba[i + 2]!];
      if (r < 240 || g < 240 || b < 240) nonWhite++;
      if (Math.abs(r - pr) < 12 && Math.abs(g - pg) < 12 && Math.abs(b - pb) < 12) firstSeries++;
    }
    const total = image.width * image.height;
    assert.ok(nonWhite > total * 0.03, `non-background pixels: ${nonWhite} of ${total}`);
    assert.ok(firstSeries > 2000, `pixels of the Gold bars: ${firstSeries}`);

    const pdf = await raw(`/dashboards/${d.id}/export`);
    assert.equal(pdf.type, 'application/pdf');
    assert.equal(pdf.body.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = pdf.body.toString('latin1');
    assert.equal((text.match(/\/Type \/Page\b(?!s)/g) ?? []).length, 1, 'one page per dashboard');
    const images = (text.match(/\/Subtype \/Image/g) ?? []).length;
    const masks = (text.match(/\/SMask \d+ 0 R/g) ?? []).length; // resvg's PNGs have alpha: pdfkit adds a mask image each
    assert.equal(images - masks, 2, 'one image per widget');
  });

  it('lets a viewer read and run dashboards but not change them', async () => {
    const d = (await t.call('POST', '/dashboards', { token: analyst, body: { name: 'Analyst made', widgets: [{ title: 'r', guided: GUIDED }] } })).body;
    assert.ok(d.id, 'analysts have dashboard:write');
    const list = await t.call('GET', '/dashboards', { token: viewer });
    assert.equal(list.status, 200);
    assert.ok(list.body.dashboards.some((x: Json) => x.id === d.id));
    assert.equal((await t.call('GET', `/dashboards/${d.id}/widgets/${d.widgets[0].id}/data`, { token: viewer })).status, 200);
    for (const [method, url, body] of [
      ['POST', '/dashboards', { name: 'no' }],
      ['PATCH', `/dashboards/${d.id}`, { name: 'no' }],
      ['DELETE', `/dashboards/${d.id}`, undefined],
      ['POST', `/dashboards/${d.id}/widgets`, { title: 'no', guided: GUIDED }],
      ['PUT', `/dashboards/${d.id}/layout`, { widgets: [] }],
    ] as const) {
      const response = await t.call(method, url, { token: viewer, ...(body ? { body } : {}) });
      assert.equal(response.status, 403, `${method} ${url}`);
      assert.equal(response.body.error.code, 'RT_FORBIDDEN_ROLE');
    }
  });

  it('creates the standard CLV dashboards once per sandbox, including new sandboxes, and keeps deleted ones deleted', async () => {
    const first = (await t.call('GET', '/dashboards')).body.dashboards.filter((d: Json) => d.standard);
    assert.deepEqual(first.map((d: Json) => d.standard).sort(), ['audiences', 'clv-overview', 'post-campaign']);
    const again = (await t.call('GET', '/dashboards')).body.dashboards.filter((d: Json) => d.standard);
    assert.equal(again.length, first.length, 'idempotent');
    const clv = (await t.call('GET', '/dashboards/dsh_std_clv_overview')).body;
    assert.equal(clv.name, 'Customer lifetime value');
    assert.ok(clv.widgets.length >= 4 && clv.widgets.length <= 10);

    assert.equal((await t.call('DELETE', '/dashboards/dsh_std_audiences')).status, 204);
    const afterDelete = (await t.call('GET', '/dashboards')).body.dashboards.filter((d: Json) => d.standard);
    assert.deepEqual(afterDelete.map((d: Json) => d.standard).sort(), ['clv-overview', 'post-campaign']);

    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'dev' } })).status, 201);
    const dev = (await t.call('GET', '/dashboards', { sandbox: 'dev' })).body.dashboards;
    assert.deepEqual(dev.map((d: Json) => d.standard).sort(), ['audiences', 'clv-overview', 'post-campaign']);
  });

  it('provisions the standard dashboards when a sandbox is created or reset (before any read), never twice', async () => {
    // Read the stored documents, not GET /dashboards: a list would create missing ones itself.
    const stored = async (sandbox: string) => (await t.platform.metadata.documents.list<{ standard: string | null }>(sandbox, 'dashboard')).map((d) => d.body.standard).filter((k) => k !== null).sort();
    const expected = ['audiences', 'clv-overview', 'post-campaign'];
    assert.deepEqual(await stored('prod'), expected.filter((k) => k !== 'audiences'), 'prod got them at init (one deleted above stays deleted)');
    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'fresh' } })).status, 201);
    assert.deepEqual(await stored('fresh'), expected, 'there as soon as the sandbox exists');
    // The lazy path (sandboxes from before provisioning) finds them there and adds none.
    const listed = (await t.call('GET', '/dashboards', { sandbox: 'fresh' })).body.dashboards.filter((d: Json) => d.standard);
    assert.deepEqual(listed.map((d: Json) => d.standard).sort(), expected);
    await t.platform.dashboards.ensureStandard('fresh');
    assert.deepEqual(await stored('fresh'), expected);
    // A reset empties the sandbox and provisions it again: one of each.
    assert.equal((await t.call('POST', '/sandboxes/fresh/reset')).status, 200);
    assert.deepEqual(await stored('fresh'), expected);
    assert.equal((await t.call('DELETE', '/sandboxes/fresh')).status, 204);
    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'fresh' } })).status, 201);
    assert.deepEqual(await stored('fresh'), expected, 'recreated: one of each again');
  });

  it('runs the standard dashboards on a refreshed CDPInsights model', async () => {
    const kit = await setupDatasets(t);
    await write(t, kit.crm, [crmRecord('C1', 'ann@example.com'), crmRecord('C2', 'bob@example.com'), crmRecord('C3', 'cy@example.com')]);
    await t.platform.identity.sync('prod');
    const w = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(w);
    const policy = (await t.platform.mergePolicies.list('prod')).find((p) => p.isDefault && p.classId === 'profile')!;
    const profiles = (await w.query(`SELECT DISTINCT graph FROM ${NODES} WHERE ns = 'CRMID' ORDER BY graph`)).rows.map((r) => Number(r.graph));
    const at = new Date().toISOString();
    await w.query(
      `INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-big', $p, ${profiles[0]}, 'realized', $at, 1), ('seg-big', $p, ${profiles[1]}, 'realized', $at, 1), ('seg-big', $p, ${profiles[2]}, 'realized', $at, 1), ('seg-small', $p, ${profiles[0]}, 'realized', $at, 1)`,
      { p: policy.id, at },
    );
    assert.equal((await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights')).status, 'success');

    const copy = (await t.call('POST', '/dashboards/dsh_std_clv_overview/duplicate', { body: {} })).body;
    assert.equal(copy.standard, null, 'a copy of a standard dashboard is a plain dashboard');
    assert.equal(copy.widgets.length, 6);
    const std = (await t.call('GET', '/dashboards')).body.dashboards.filter((d: Json) => d.standard);
    for (const d of std) {
      const full = (await t.call('GET', `/dashboards/${d.id}`)).body;
      for (const widget of full.widgets) {
        const data = await t.call('GET', `/dashboards/${d.id}/widgets/${widget.id}/data`);
        assert.equal(data.status, 200, `${widget.title}: ${JSON.stringify(data.body)}`);
      }
    }
    // The audiences dashboard was deleted above; a copy made from the registered definition shows the sizes.
    const registered = await t.call('POST', '/dashboards', { body: { ...audiencesDefinition(), name: 'Audiences again' } });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const size = await t.call('GET', `/dashboards/${registered.body.id}/widgets/${registered.body.widgets[0].id}/data`);
    assert.equal(size.status, 200, JSON.stringify(size.body));
    assert.deepEqual(size.body.rows.map((r: Json) => r.count_of_profiles), [3, 1]);
    const choices = await t.call('GET', `/dashboards/${registered.body.id}/filters/audience/values`);
    assert.equal(choices.body.values.length, 2);
    const one = choices.body.values.find((v: Json) => v.id === size.body.rows[1].segment_name);
    const filtered = await t.call('GET', `/dashboards/${registered.body.id}/widgets/${registered.body.widgets[0].id}/data?filters=${encodeURIComponent(JSON.stringify({ audience: [one.id] }))}`);
    assert.deepEqual(filtered.body.rows.map((r: Json) => r.count_of_profiles), [1]);
    const pdf = await raw(`/dashboards/${registered.body.id}/export`);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.body.subarray(0, 5).toString('latin1'), '%PDF-');
  });
});

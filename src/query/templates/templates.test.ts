import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBed, type Bed } from '../schedules/test-support.ts';
import { mergeParams, placeholders } from './parameters.ts';

describe('template parameters', () => {
  it('finds bare and quoted placeholders in order, once each', () => {
    assert.deepEqual(placeholders("SELECT '$a' AS x, $b.t.c, 'keep $ 5', '$a-$c' FROM t WHERE $user_id -- $not_me"), ['a', 'b', 'c', 'user_id']);
  });
  it('merges layers without $ and drops empty values', () => {
    assert.deepEqual(mergeParams({ $a: '1', b: '2' }, { a: '3', $c: '' }), { a: '3', b: '2' });
  });
});

describe('query templates API', () => {
  let bed: Bed;
  before(async () => {
    bed = await createBed('2026-01-01T00:00:00.000Z');
  });
  after(() => bed.dispose());

  it('creates, lists, reads, overwrites and deletes templates', async () => {
    const created = await bed.call('POST', '/query-templates', { sql: "SELECT '$greeting' AS g", name: 'Greeting', queryParameters: { $greeting: 'hello' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.match(created.body.id, /^tpl_/);
    assert.deepEqual(created.body.parameters, ['greeting']);
    assert.deepEqual(created.body.queryParameters, { $greeting: 'hello' });
    bed.clock.set('2026-01-01T00:01:00.000Z');
    const second = await bed.call('POST', '/query-templates', { sql: 'SELECT 2 AS n', name: 'Two' });
    bed.clock.set('2026-01-01T00:02:00.000Z');
    await bed.call('POST', '/query-templates', { sql: 'SELECT 3 AS n', name: 'Three' });

    const newest = await bed.call('GET', '/query-templates?limit=2');
    assert.deepEqual(newest.body.templates.map((t: { name: string }) => t.name), ['Three', 'Two'], 'default orderby -created, page of 2');
    assert.deepEqual([newest.body._page.total, newest.body._page.count], [3, 2]);
    assert.match(newest.body._links.next.href, /start=2/);
    const oldest = await bed.call('GET', '/query-templates?orderby=%2Bcreated&start=1');
    assert.deepEqual(oldest.body.templates.map((t: { name: string }) => t.name), ['Two', 'Three']);
    const byName = await bed.call('GET', '/query-templates?property=name==Two');
    assert.deepEqual(byName.body.templates.map((t: { id: string }) => t.id), [second.body.id]);
    assert.equal((await bed.call('GET', '/query-templates?property=colour==red')).body.error.code, 'RT_REQUEST_INVALID');

    const put = await bed.call('PUT', `/query-templates/${second.body.id}`, { sql: 'SELECT 22 AS n', name: 'Twenty-two' });
    assert.equal(put.status, 202);
    assert.equal((await bed.call('GET', `/query-templates/${second.body.id}`)).body.sql, 'SELECT 22 AS n');
    const partial = await bed.call('PUT', `/query-templates/${second.body.id}`, { sql: 'SELECT 1' });
    assert.deepEqual([partial.status, partial.body.error.code], [400, 'RT_REQUEST_INVALID'], 'PUT needs sql and name');

    assert.equal((await bed.call('DELETE', `/query-templates/${second.body.id}`)).status, 202);
    assert.equal((await bed.call('GET', `/query-templates/${second.body.id}`)).body.error.code, 'RT_TEMPLATE_NOT_FOUND');
  });

  it('runs with parameter values: defaults, overrides, extras ignored, missing refused', async () => {
    const template = (await bed.call('POST', '/query-templates', { sql: "SELECT '$city' AS city, '$year' AS year", name: 'Params', queryParameters: { $year: '2025' } })).body;
    const run = await bed.call('POST', `/query-templates/${template.id}/run`, { queryParameters: { $city: 'Lyon', unused: 'x' } });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.deepEqual(run.body.last.rows, [{ city: 'Lyon', year: '2025' }]);
    assert.equal(run.body.templateId, template.id);
    const override = await bed.call('POST', `/query-templates/${template.id}/run`, { queryParameters: { city: 'Oslo', year: '2026' } });
    assert.deepEqual(override.body.last.rows, [{ city: 'Oslo', year: '2026' }]);
    const missing = await bed.call('POST', `/query-templates/${template.id}/run`, {});
    assert.deepEqual([missing.status, missing.body.error.code], [400, 'RT_QUERY_PARAMETER_MISSING']);
    const empty = await bed.call('POST', `/query-templates/${template.id}/run`, { queryParameters: { city: '' } });
    assert.equal(empty.body.error.code, 'RT_QUERY_PARAMETER_MISSING', 'an empty value counts as missing');
  });

  it('refuses to delete a template a schedule runs', async () => {
    const template = (await bed.call('POST', '/query-templates', { sql: 'SELECT 1 AS one', name: 'Used' })).body;
    const schedule = (await bed.call('POST', '/schedules', { query: { templateId: template.id }, schedule: { schedule: '0 * * * *' } })).body;
    const refused = await bed.call('DELETE', `/query-templates/${template.id}`);
    assert.deepEqual([refused.status, refused.body.error.code, refused.body.error.details.schedules], [409, 'RT_TEMPLATE_IN_USE', [schedule.id]]);
  });

  it('is in the OpenAPI document and follows the role table', async () => {
    const doc = (await bed.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const route of ['/query-templates', '/query-templates/{id}', '/query-templates/{id}/run', '/schedules', '/schedules/{id}', '/schedules/{id}/runs', '/schedules/{id}/runs/{runId}']) {
      assert.ok(doc.paths[route], route);
    }
    const analyst = (await bed.call('POST', '/api-keys', { name: 'analyst', role: 'analyst' })).body.token;
    const as = (method: string, url: string, body?: object) =>
      bed.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${analyst}` }, ...(body ? { payload: body } : {}) });
    assert.equal((await as('GET', '/query-templates')).statusCode, 200);
    assert.equal((await as('GET', '/schedules')).statusCode, 200);
    const refused = await as('POST', '/schedules', { query: { sql: 'SELECT 1', name: 'x' }, schedule: { schedule: '* * * * *' } });
    assert.deepEqual([refused.statusCode, refused.json().error.code], [403, 'RT_FORBIDDEN_ROLE']);
    assert.equal((await as('POST', '/query-templates', { sql: 'SELECT 1', name: 'x' })).statusCode, 403);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { installAuth } from './auth.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';

describe('HTTP API behaviour', () => {
  let t: TestPlatform;
  before(async () => {
    t = await createTestPlatform();
  });
  after(() => t.dispose());

  const raw = (method: 'POST' | 'GET', url: string, payload: string, contentType = 'application/json') =>
    t.app.inject({ method, url, payload, headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': contentType } });

  it('answers invalid JSON with 400 RT_REQUEST_MALFORMED_JSON and no stack trace', async () => {
    const res = await raw('POST', '/schemas', '{"title": ');
    assert.equal(res.statusCode, 400);
    const body = res.json<{ error: { code: string; message: string } }>();
    assert.equal(body.error.code, 'RT_REQUEST_MALFORMED_JSON');
    assert.ok(!res.body.includes('    at '), 'no stack trace');
  });

  it('answers wrong types and unknown fields with 400 and the path of the field', async () => {
    const wrongType = await t.call('POST', '/sandboxes', { body: { name: 42 } });
    assert.deepEqual([wrongType.status, wrongType.body.error.code, wrongType.body.error.details.issues[0].path], [400, 'RT_REQUEST_INVALID', 'body.name']);
    const unknown = await t.call('POST', '/api-keys', { body: { name: 'k', role: 'viewer', colour: 'red' } });
    assert.deepEqual([unknown.status, unknown.body.error.details.issues[0].path, unknown.body.error.details.issues[0].message], [400, 'body.colour', 'is not a known field']);
    const nested = await t.call('POST', '/schemas', { body: { title: 't', class: 'profile', identities: [{ path: 'a', namespace: 'Email', primary: 'yes' }] } });
    assert.equal(nested.body.error.details.issues[0].path, 'body.identities[0].primary');
    const missing = await t.call('POST', '/datasets', { body: { name: 'x' } });
    assert.equal(missing.body.error.details.issues[0].path, 'body.schemaId');
    const query = await t.call('GET', '/audit?limit=many');
    assert.deepEqual([query.status, query.body.error.details.issues[0].path], [400, 'querystring.limit']);
  });

  it('does not coerce body types silently', async () => {
    const res = await t.call('POST', '/api-keys', { body: { name: 123, role: 'viewer' } });
    assert.equal(res.status, 400);
  });

  it('answers unknown routes with 404 RT_ROUTE_NOT_FOUND and the wrong media type with 415', async () => {
    const res = await t.call('GET', '/no/such/route');
    assert.deepEqual([res.status, res.body.error.code], [404, 'RT_ROUTE_NOT_FOUND']);
    const media = await raw('POST', '/sandboxes', 'name=x', 'application/x-www-form-urlencoded');
    assert.equal(media.json<{ error: { code: string } }>().error.code, 'RT_UNSUPPORTED_MEDIA_TYPE');
  });

  it('publishes an OpenAPI document of every route with a readable page at /docs', async () => {
    const doc = await t.call('GET', '/openapi.json', { token: null });
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    for (const path of ['/schemas', '/schemas/{id}', '/datasets/{id}/records', '/datasets/{id}/snapshots', '/api-keys', '/audit', '/sandboxes/{name}/reset', '/namespaces']) {
      assert.ok(doc.body.paths[path], `OpenAPI lists ${path}`);
    }
    const create = doc.body.paths['/schemas'].post;
    assert.deepEqual(create.requestBody.content['application/json'].schema.properties.class.anyOf.map((c: { const?: string; enum?: string[] }) => c.const ?? c.enum?.[0]), ['profile', 'experienceevent', 'adhoc'], 'request schemas come from TypeBox');
    assert.ok(create.parameters.some((p: { name: string }) => p.name === 'x-sandbox-name'));
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger/i);
  });

  it('refuses to start with a route that declares no permission', async () => {
    const app = Fastify();
    installAuth(app, t.platform, 'api-key');
    assert.throws(() => app.get('/leaky', () => 'data'), /declares no action/);
    app.get('/fine', { config: { action: 'schema:read' } }, () => 'data');
    await app.ready();
    await app.close();
  });
});

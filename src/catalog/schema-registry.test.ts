import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_SCHEMA, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';

describe('schema registry', () => {
  let t: TestPlatform;
  before(async () => {
    t = await createTestPlatform();
  });
  after(() => t.dispose());

  const post = (url: string, body: unknown) => t.call('POST', url, { body });

  describe('composition', () => {
    it('composes class, field groups, tenant fields and data types into one closed JSON Schema', async () => {
      const res = await post('/schemas', LOYALTY_SCHEMA);
      assert.equal(res.status, 201);
      const resolved = res.body.resolved;
      assert.equal(resolved['meta:class'], 'profile');
      assert.equal(resolved.additionalProperties, false);
      assert.equal(resolved.properties.person.properties.name.properties.firstName.type, 'string');
      const deciles = resolved.properties._roundtrip.properties.decilesMileage;
      assert.deepEqual(Object.keys(deciles.properties), ['decileMonth1', 'decileMonth3', 'decileMonth6', 'decileMonth9', 'decileMonth12', 'decileMonthAll']);
      assert.equal(deciles.properties.decileMonth3.additionalProperties.type, 'integer', 'a map<string, int> per window');
      assert.equal(resolved.properties._roundtrip.additionalProperties, false);
      assert.equal(resolved.properties.identityMap.additionalProperties.type, 'array');
    });

    it('gives ExperienceEvent schemas the required _id and timestamp', async () => {
      const res = await post('/schemas', EVENT_SCHEMA);
      assert.deepEqual(res.body.resolved.required, ['_id', 'timestamp']);
      assert.equal(res.body.resolved.properties.timestamp.format, 'date-time');
    });

    it('refuses a field group of another class, an unknown group and an unknown data type', async () => {
      assert.equal((await post('/schemas', { title: 'x', class: 'experienceevent', fieldGroups: ['person-details'] })).body.error.code, 'RT_FIELD_GROUP_CLASS_MISMATCH');
      assert.equal((await post('/schemas', { title: 'x', class: 'profile', fieldGroups: ['nope'] })).body.error.code, 'RT_FIELD_GROUP_NOT_FOUND');
      assert.equal((await post('/schemas', { title: 'x', class: 'profile', fields: { d: { $ref: 'nope' } } })).body.error.code, 'RT_DATA_TYPE_NOT_FOUND');
    });

    it('names the path of a bad field definition', async () => {
      const res = await post('/schemas', { title: 'x', class: 'profile', fields: { a: { type: 'object', properties: { b: { type: 'strng' } } } } });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'RT_SCHEMA_INVALID');
      assert.equal(res.body.error.details.issues[0].path, 'fields.a.properties.b.type');
      const badName = await post('/schemas', { title: 'x', class: 'profile', fields: { 'has space': { type: 'string' } } });
      assert.equal(badName.body.error.details.issues[0].path, 'fields.has space');
    });

    it('refuses one field defined with two types by two field groups', async () => {
      const group = await post('/field-groups', { id: 'clash', title: 'Clash', class: 'any', fields: { tier: { type: 'integer' } } });
      assert.equal(group.status, 201);
      const res = await post('/schemas', { title: 'x', class: 'profile', fieldGroups: ['clash'], fields: { tier: { type: 'string' } } });
      assert.equal(res.body.error.code, 'RT_SCHEMA_FIELD_CONFLICT');
      assert.equal(res.body.error.details.issues[0].path, '_roundtrip.tier');
    });

    it('places custom field groups under the tenant and reuses custom data types', async () => {
      await post('/data-types', { id: 'money', title: 'Money', definition: { type: 'object', properties: { amount: { type: 'number' }, currency: { type: 'string' } } } });
      await post('/field-groups', { id: 'orders-fg', title: 'Orders', class: 'experienceevent', fields: { order: { type: 'object', properties: { total: { $ref: 'money' } } } } });
      const res = await post('/schemas', { title: 'Orders', class: 'experienceevent', fieldGroups: ['orders-fg'] });
      assert.equal(res.body.resolved.properties._roundtrip.properties.order.properties.total.properties.currency.type, 'string');
      const cyclic = await post('/data-types', { id: 'loop', title: 'Loop', definition: { $ref: 'loop' } });
      assert.equal(cyclic.status, 404, 'a type cannot refer to itself before it exists');
      assert.equal((await post('/data-types', { id: 'money', title: 'again', definition: { type: 'string' } })).body.error.code, 'RT_DATA_TYPE_EXISTS');
    });
  });

  describe('identities and namespaces', () => {
    it('validates identity descriptors: existing string field, known namespace, one primary', async () => {
      const base = { title: 'x', class: 'profile', fields: { id: { type: 'string' }, n: { type: 'integer' }, list: { type: 'array', items: { type: 'string' } } } };
      const cases: [unknown, string][] = [
        [[{ path: '_roundtrip.missing', namespace: 'CRMID' }], 'identities[0].path'],
        [[{ path: '_roundtrip.n', namespace: 'CRMID' }], 'identities[0].path'],
        [[{ path: '_roundtrip.list', namespace: 'CRMID' }], 'identities[0].path'],
        [[{ path: '_roundtrip.id', namespace: 'NoSuchNamespace' }], 'identities[0].namespace'],
        [[{ path: '_roundtrip.id', namespace: 'CRMID', primary: true }, { path: '_id', namespace: 'ECID', primary: true }], 'identities'],
      ];
      for (const [identities, path] of cases) {
        const res = await post('/schemas', { ...base, identities });
        assert.equal(res.body.error?.code, 'RT_SCHEMA_IDENTITY_INVALID', JSON.stringify(identities));
        assert.equal(res.body.error.details.issues[0].path, path);
      }
    });

    it('lists the standard namespaces and keeps code and type of custom ones fixed', async () => {
      const list = (await t.call('GET', '/namespaces')).body.namespaces.map((n: { code: string }) => n.code);
      for (const code of ['ECID', 'Email', 'Phone', 'CRMID', 'IDFA', 'GAID']) assert.ok(list.includes(code), code);
      assert.equal((await post('/namespaces', { code: 'Loyalty', name: 'Loyalty', idType: 'CROSS_DEVICE' })).status, 201);
      assert.equal((await post('/namespaces', { code: 'loyalty', name: 'dup', idType: 'CROSS_DEVICE' })).body.error.code, 'RT_NAMESPACE_EXISTS');
      assert.equal((await post('/namespaces', { code: 'email', name: 'dup', idType: 'EMAIL' })).body.error.code, 'RT_NAMESPACE_EXISTS');
      const renamed = await t.call('PATCH', '/namespaces/Loyalty', { body: { name: 'Loyalty number' } });
      assert.deepEqual([renamed.status, renamed.body.name, renamed.body.idType], [200, 'Loyalty number', 'CROSS_DEVICE']);
      assert.equal((await t.call('PATCH', '/namespaces/Loyalty', { body: { idType: 'EMAIL' } })).body.error.code, 'RT_NAMESPACE_IMMUTABLE');
      assert.equal((await t.call('PATCH', '/namespaces/Loyalty', { body: { code: 'Other' } })).body.error.code, 'RT_NAMESPACE_IMMUTABLE');
      assert.equal((await t.call('PATCH', '/namespaces/Email', { body: { name: 'Mail' } })).body.error.code, 'RT_NAMESPACE_IMMUTABLE');
      assert.equal((await post('/namespaces', { code: 'Bad', name: 'b', idType: 'SOMETHING' })).body.error.code, 'RT_REQUEST_INVALID');
    });
  });

  describe('evolution', () => {
    const v1 = {
      title: 'Evolving',
      class: 'profile' as const,
      fields: {
        id: { type: 'string' },
        tier: { type: 'string', enum: ['SILVER', 'GOLD'] },
        code: { type: 'string', maxLength: 10 },
        address: { type: 'object', properties: { city: { type: 'string' } } },
      },
      identities: [{ path: '_roundtrip.id', namespace: 'CRMID', primary: true }],
    };
    let id: string;
    before(async () => {
      id = (await post('/schemas', v1)).body.id;
    });
    const put = (body: unknown) => t.call('PUT', `/schemas/${id}`, { body });
    const withFields = (fields: Record<string, unknown>) => ({ ...v1, fields: { ...v1.fields, ...fields } });

    it('accepts added optional fields, widened enums and looser limits as the next version', async () => {
      const res = await put(withFields({ nickname: { type: 'string' }, tier: { type: 'string', enum: ['SILVER', 'GOLD', 'FLYER'] }, code: { type: 'string', maxLength: 20 } }));
      assert.deepEqual([res.status, res.body.version], [200, 2]);
      const versions = (await t.call('GET', `/schemas/${id}/versions`)).body.versions.map((v: { version: number }) => v.version);
      assert.deepEqual(versions, [1, 2]);
      assert.equal((await t.call('GET', `/schemas/${id}?version=1`)).body.resolved.properties._roundtrip.properties.nickname, undefined);
    });

    it('refuses every incompatible change with its path', async () => {
      const v2 = withFields({ nickname: { type: 'string' }, tier: { type: 'string', enum: ['SILVER', 'GOLD', 'FLYER'] }, code: { type: 'string', maxLength: 20 } });
      const cases: [unknown, string, RegExp][] = [
        [{ ...v2, fields: { ...v2.fields, address: undefined } }, '_roundtrip.address', /removed/],
        [{ ...v2, fields: { ...v2.fields, address: { type: 'object', properties: { city: { type: 'integer' } } } } }, '_roundtrip.address.city', /changes type from string to integer/],
        [{ ...v2, required: ['nickname'] }, '_roundtrip.nickname', /required/],
        [{ ...v2, fields: { ...v2.fields, tier: { type: 'string', enum: ['GOLD'] } } }, '_roundtrip.tier', /drops enum/],
        [{ ...v2, fields: { ...v2.fields, code: { type: 'string', maxLength: 5 } } }, '_roundtrip.code', /tightens maxLength/],
        [{ ...v2, class: 'experienceevent' }, 'class', /change/],
        [{ ...v2, identities: [] }, 'identities._roundtrip.id', /identity/],
      ];
      for (const [body, path, message] of cases) {
        const res = await put(JSON.parse(JSON.stringify(body)));
        assert.equal(res.body.error?.code, 'RT_SCHEMA_INCOMPATIBLE_CHANGE', path);
        const issue = res.body.error.details.issues.find((i: { path: string }) => i.path === path);
        assert.ok(issue && message.test(issue.message), `${path}: ${JSON.stringify(res.body.error.details.issues)}`);
      }
      assert.equal((await t.call('GET', `/schemas/${id}`)).body.version, 2, 'nothing was stored');
    });
  });
});

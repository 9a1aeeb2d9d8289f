/**
 * Schema registry routes: identity namespaces, data types, field groups and versioned schemas of the sandbox.
 */
import { Type } from 'typebox';
import {
  DataTypeBody,
  DataTypeView,
  FieldGroupBody,
  FieldGroupView,
  NamespaceBody,
  NamespacePatch,
  NamespaceView,
  SchemaBody,
  SchemaView,
} from '../../catalog/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const read = { action: 'schema:read' as const };
const write = { action: 'schema:write' as const };
const IdParams = Type.Object({ id: Type.String() });

export function registryRoutes(app: App, platform: Platform): void {
  const { registry } = platform;

  app.get('/namespaces', { config: read, schema: { tags: ['identity namespaces'], summary: 'Standard and custom identity namespaces', response: { 200: Type.Object({ namespaces: Type.Array(NamespaceView) }) } } }, async (req) => ({
    namespaces: await registry.listNamespaces(req.sandbox),
  }));
  app.post('/namespaces', { config: write, schema: { tags: ['identity namespaces'], summary: 'Create a custom namespace', body: NamespaceBody, response: { 201: NamespaceView } } }, async (req, reply) =>
    reply.status(201).send(await registry.createNamespace(req.principal, req.sandbox, req.body)),
  );
  app.get('/namespaces/:code', { config: read, schema: { tags: ['identity namespaces'], params: Type.Object({ code: Type.String() }), response: { 200: NamespaceView } } }, async (req) =>
    registry.getNamespace(req.sandbox, req.params.code),
  );
  app.patch(
    '/namespaces/:code',
    { config: write, schema: { tags: ['identity namespaces'], summary: 'Rename or describe (code and type never change)', params: Type.Object({ code: Type.String() }), body: NamespacePatch, response: { 200: NamespaceView } } },
    async (req) => registry.updateNamespace(req.principal, req.sandbox, req.params.code, req.body),
  );

  app.get('/data-types', { config: read, schema: { tags: ['schemas'], summary: 'Reusable data types', response: { 200: Type.Object({ dataTypes: Type.Array(DataTypeView) }) } } }, async (req) => ({
    dataTypes: await registry.listDataTypes(req.sandbox),
  }));
  app.post('/data-types', { config: write, schema: { tags: ['schemas'], summary: 'Create a data type', body: DataTypeBody, response: { 201: DataTypeView } } }, async (req, reply) =>
    reply.status(201).send(await registry.createDataType(req.principal, req.sandbox, req.body)),
  );
  app.get('/data-types/:id', { config: read, schema: { tags: ['schemas'], params: IdParams, response: { 200: DataTypeView } } }, async (req) => registry.getDataType(req.sandbox, req.params.id));

  app.get('/field-groups', { config: read, schema: { tags: ['schemas'], summary: 'Standard and custom field groups', response: { 200: Type.Object({ fieldGroups: Type.Array(FieldGroupView) }) } } }, async (req) => ({
    fieldGroups: await registry.listFieldGroups(req.sandbox),
  }));
  app.post('/field-groups', { config: write, schema: { tags: ['schemas'], summary: 'Create a field group (fields go under _<tenant>)', body: FieldGroupBody, response: { 201: FieldGroupView } } }, async (req, reply) =>
    reply.status(201).send(await registry.createFieldGroup(req.principal, req.sandbox, req.body)),
  );
  app.get('/field-groups/:id', { config: read, schema: { tags: ['schemas'], params: IdParams, response: { 200: FieldGroupView } } }, async (req) => registry.getFieldGroup(req.sandbox, req.params.id));

  app.get('/schemas', { config: read, schema: { tags: ['schemas'], summary: 'Latest version of every schema', response: { 200: Type.Object({ schemas: Type.Array(SchemaView) }) } } }, async (req) => ({
    schemas: await registry.listSchemas(req.sandbox),
  }));
  app.post('/schemas', { config: write, schema: { tags: ['schemas'], summary: 'Create a schema (version 1)', body: SchemaBody, response: { 201: SchemaView } } }, async (req, reply) =>
    reply.status(201).send(await registry.createSchema(req.principal, req.sandbox, req.body)),
  );
  app.get(
    '/schemas/:id',
    { config: read, schema: { tags: ['schemas'], params: IdParams, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }), response: { 200: SchemaView } } },
    async (req) => registry.getSchema(req.sandbox, req.params.id, req.query.version),
  );
  app.put(
    '/schemas/:id',
    { config: write, schema: { tags: ['schemas'], summary: 'Store the next version (compatible changes only)', params: IdParams, body: SchemaBody, response: { 200: SchemaView } } },
    async (req) => registry.updateSchema(req.principal, req.sandbox, req.params.id, req.body),
  );
  app.get('/schemas/:id/versions', { config: read, schema: { tags: ['schemas'], params: IdParams, response: { 200: Type.Object({ versions: Type.Array(SchemaView) }) } } }, async (req) => ({
    versions: await registry.schemaVersions(req.sandbox, req.params.id),
  }));
}

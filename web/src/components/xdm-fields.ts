/**
 * Profile and event fields for pickers (the segment builder's rail, the activation wizard's attributes): the
 * scalar leaves of the schemas' composed JSON Schemas, as dotted paths with their type, grouped by class.
 * Maps (`additionalProperties`) are kept as one field of type `map` (the builder reads them with a map key).
 */
import type { Static } from 'typebox';
import type { SchemaView } from '../../../src/catalog/payloads.ts';
import type { Client } from '../api.ts';

export type Schema = Static<typeof SchemaView>;

export interface XdmField {
  path: string;
  type: string;
  description?: string;
  enum?: unknown[];
  /** Title of the schema it comes from. */
  schema: string;
}

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: JsonSchemaNode | boolean;
  items?: JsonSchemaNode;
  description?: string;
  enum?: unknown[];
  format?: string;
}

const SYSTEM = new Set(['_id', '_rt_snapshot_id', '_rt_batch_id', '_rt_ingested_at']);

export function leaves(node: JsonSchemaNode, schema: string, prefix = ''): XdmField[] {
  const out: XdmField[] = [];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (SYSTEM.has(path)) continue;
    const type = Array.isArray(child.type) ? child.type.find((t) => t !== 'null') : child.type;
    if (type === 'object' && child.properties) out.push(...leaves(child, schema, path));
    else if (type === 'object' && typeof child.additionalProperties === 'object') out.push({ path, type: 'map', schema, ...(child.description ? { description: child.description } : {}) });
    else if (type === 'array') continue;
    else
      out.push({
        path,
        type: child.format === 'date-time' || child.format === 'date' ? child.format : (type ?? 'string'),
        schema,
        ...(child.description ? { description: child.description } : {}),
        ...(child.enum ? { enum: child.enum } : {}),
      });
  }
  return out;
}

/** Fields of every schema of a class (`profile`, `experienceevent`), de-duplicated by path. */
export async function fieldsOfClass(client: Client, klass: string): Promise<XdmField[]> {
  const { schemas } = await client.get<{ schemas: Schema[] }>('/schemas');
  const seen = new Map<string, XdmField>();
  for (const s of schemas.filter((x) => x.class === klass)) for (const f of leaves(s.resolved, s.title)) if (!seen.has(f.path)) seen.set(f.path, f);
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path));
}

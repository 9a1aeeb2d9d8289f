/**
 * Data Distiller DDL types and column definitions: `text`, `bigint`, `map<text, integer>`, `array<…>`,
 * `struct<a: t>` / `ROW(a t)`, with `PRIMARY IDENTITY NAMESPACE 'X'` (or `PRIMARY KEY NAMESPACE 'X'`) markers,
 * turned into XDM field definitions; and the reverse, warehouse column types into XDM fields for CTAS.
 */
import { RoundtripError } from '../core/errors.ts';
import type { FieldDefinition, Properties } from '../catalog/xdm/fields.ts';
import type { IdentityDescriptor } from '../catalog/xdm/compose.ts';
import type { ColumnSpec, ColumnType } from '../ports/warehouse.ts';

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Warehouse column type → XDM field (CTAS schema inference). */
export function fieldFromColumnType(type: ColumnType): FieldDefinition {
  switch (type.kind) {
    case 'struct':
      return { type: 'object', properties: propertiesFromColumns(type.fields) };
    case 'map':
      return { type: 'object', additionalProperties: fieldFromColumnType(type.value) };
    case 'list':
      return { type: 'array', items: fieldFromColumnType(type.items) };
    case 'date':
      return { type: 'string', format: 'date' };
    case 'timestamp':
      return { type: 'string', format: 'date-time' };
    default:
      return { type: type.kind };
  }
}

export function propertiesFromColumns(columns: readonly ColumnSpec[]): Properties {
  const properties: Properties = {};
  for (const column of columns) {
    if (!FIELD_NAME.test(column.name)) {
      throw new RoundtripError('RT_QUERY_COLUMN_NAME', `Column "${column.name}" cannot name a dataset field; give the expression an alias made of letters, digits and _.`);
    }
    properties[column.name] = fieldFromColumnType(column.type);
  }
  return properties;
}

const SCALARS: Record<string, FieldDefinition> = {
  text: { type: 'string' },
  string: { type: 'string' },
  varchar: { type: 'string' },
  char: { type: 'string' },
  boolean: { type: 'boolean' },
  bool: { type: 'boolean' },
  integer: { type: 'integer' },
  int: { type: 'integer' },
  bigint: { type: 'integer' },
  smallint: { type: 'integer' },
  tinyint: { type: 'integer' },
  long: { type: 'integer' },
  float: { type: 'number' },
  double: { type: 'number' },
  decimal: { type: 'number' },
  numeric: { type: 'number' },
  date: { type: 'string', format: 'date' },
  datetime: { type: 'string', format: 'date-time' },
  timestamp: { type: 'string', format: 'date-time' },
};

/** A small recursive-descent reader of DDL type text. */
class TypeReader {
  private i = 0;
  constructor(private readonly text: string) {}

  private skip(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i]!)) this.i++;
  }

  private word(): string {
    this.skip();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.i));
    if (!match) throw this.error('a type name');
    this.i += match[0].length;
    return match[0];
  }

  private expect(char: string): void {
    this.skip();
    if (this.text[this.i] !== char) throw this.error(`"${char}"`);
    this.i++;
  }

  private peek(): string | undefined {
    this.skip();
    return this.text[this.i];
  }

  private error(what: string): RoundtripError {
    return new RoundtripError('RT_QUERY_SYNTAX', `Expected ${what} in type "${this.text}" at character ${this.i + 1}.`);
  }

  read(): FieldDefinition {
    const name = this.word().toLowerCase();
    if (name === 'map') {
      this.expect('<');
      this.read(); // keys are strings in XDM maps
      this.expect(',');
      const value = this.read();
      this.expect('>');
      return { type: 'object', additionalProperties: value };
    }
    if (name === 'array') {
      this.expect('<');
      const items = this.read();
      this.expect('>');
      return { type: 'array', items };
    }
    if (name === 'struct' || name === 'row') {
      const [open, close] = name === 'struct' ? ['<', '>'] : ['(', ')'];
      this.expect(open);
      const properties: Properties = {};
      for (;;) {
        const field = this.word();
        if (this.peek() === ':') this.expect(':');
        properties[field] = this.read();
        if (this.peek() !== ',') break;
        this.expect(',');
      }
      this.expect(close);
      return { type: 'object', properties };
    }
    const scalar = SCALARS[name];
    if (!scalar) throw new RoundtripError('RT_QUERY_UNSUPPORTED', `Type "${name}" is not supported; use text, boolean, integer, bigint, float, double, date, datetime, map<,>, array<> or struct<>.`);
    if (this.peek() === '(') {
      // Precision and length, e.g. DECIMAL(18,2) or VARCHAR(20): the XDM type does not keep them.
      while (this.peek() !== ')') this.i++;
      this.expect(')');
    }
    return scalar;
  }

  end(): void {
    this.skip();
    if (this.i < this.text.length) throw this.error('the end of the type');
  }
}

export function fieldFromDdlType(text: string): FieldDefinition {
  const reader = new TypeReader(text);
  const field = reader.read();
  reader.end();
  return field;
}

/** Splits a column list on commas outside `<…>` and `(…)` (types like `map<text, integer>` hold commas). */
export function splitColumnDefinitions(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of text) {
    if (char === "'") quoted = !quoted;
    if (!quoted && (char === '<' || char === '(')) depth++;
    if (!quoted && (char === '>' || char === ')')) depth--;
    if (!quoted && depth === 0 && char === ',') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

const IDENTITY_MARKER = /\s+(PRIMARY\s+)?(IDENTITY|KEY)\s+NAMESPACE\s+'([^']+)'\s*$/i;

/** `id text PRIMARY IDENTITY NAMESPACE 'IDFA'` → the field and its identity descriptor. */
export function columnDefinition(text: string): { name: string; field: FieldDefinition; identity?: IdentityDescriptor } {
  const trimmed = text.trim();
  const nameMatch = /^("([^"]+)"|[A-Za-z_][A-Za-z0-9_]*)\s+/.exec(trimmed);
  if (!nameMatch) throw new RoundtripError('RT_QUERY_SYNTAX', `Cannot read the column definition "${trimmed}".`);
  const name = nameMatch[2] ?? nameMatch[1]!;
  let rest = trimmed.slice(nameMatch[0].length);
  const marker = IDENTITY_MARKER.exec(rest);
  if (marker) rest = rest.slice(0, marker.index);
  const field = fieldFromDdlType(rest);
  return marker ? { name, field, identity: { path: name, namespace: marker[3]!, ...(marker[1] ? { primary: true } : {}) } } : { name, field };
}

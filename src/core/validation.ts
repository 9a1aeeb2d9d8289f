/**
 * Validation: one Ajv setup for every JSON Schema in the product (TypeBox payload schemas, XDM schemas, config),
 * so "what is valid" means the same thing in the API, the CLI and ingestion. Errors come back as field issues
 * with dotted paths (`person.name.firstName`) that a user can act on.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { RoundtripError, type ErrorCode, type FieldIssue } from './errors.ts';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on `.default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface AjvFlavour {
  /** Coerce strings to numbers/booleans, as query strings need; never for bodies. */
  coerceTypes: boolean;
}

export function createAjv(flavour: AjvFlavour = { coerceTypes: false }): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: flavour.coerceTypes ? 'array' : false,
  });
  addFormats(ajv);
  return ajv;
}

const sharedAjv = createAjv();
const compiled = new WeakMap<object, ValidateFunction>();

export function compileSchema(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // Without `$id`, Ajv does not register the schema globally: versions of one schema share an id, and
    // registering each would both collide and keep every compiled schema alive forever.
    const { $id: _id, ...anonymous } = schema as { $id?: string };
    validate = sharedAjv.compile(anonymous);
    compiled.set(schema, validate);
  }
  return validate;
}

/** `/a/b/0` (Ajv's instancePath) → `a.b[0]`, plus the property Ajv says is missing or extra. */
export function issuePath(error: ErrorObject, root = ''): string {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const extra = params.missingProperty ?? params.additionalProperty;
  if (extra !== undefined) segments.push(extra);
  const path = segments.reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
  return root && path ? `${root}.${path}` : root || path;
}

export function issueMessage(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'required') return 'is required';
  return error.message ?? 'is invalid';
}

export function toIssues(errors: ErrorObject[] | null | undefined, root = ''): FieldIssue[] {
  return (errors ?? []).map((error) => ({ path: issuePath(error, root), message: issueMessage(error) }));
}

/** Validates `value` against `schema`, throwing `code` with the field issues when it does not match. */
export function assertValid<T>(schema: object, value: unknown, code: ErrorCode, what: string): T {
  const validate = compileSchema(schema);
  if (!validate(value)) {
    const issues = toIssues(validate.errors);
    const first = issues[0];
    const where = first ? ` at ${first.path || '(root)'}: ${first.message}` : '';
    throw new RoundtripError(code, `${what} is invalid${where}.`, { issues });
  }
  return value as T;
}

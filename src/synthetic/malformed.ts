/**
 * Malformed profile rows: copies of real profile records, each broken in exactly one way a real export breaks
 * (a missing required id, a date in the wrong format, a number written as text, an unknown field, a value
 * outside its enum, a too-long code, a timestamp that is not one). They are written to their own JSON Lines file
 * so a test can count them, and every one must be refused by the schema validator at the field path listed here.
 */

export const DEFECTS = {
  missing_required: (r, t) => void delete field(r, t).crmId,
  bad_date: (r) => void (field(r, 'person').birthDate = '31/02/1985'),
  wrong_type: (r) => void (field(r, 'loyalty').points = '12,500'),
  unknown_field: (r, t) => void (field(r, t).favouriteColour = 'teal'),
  bad_enum: (r) => void (field(r, 'person').gender = 'M'),
  too_long: (r) => void (r.homeAddress = { ...field(r, 'homeAddress'), countryCode: 'USA' }),
  bad_timestamp: (r, t) => void (field(r, t).signupTimestamp = 'yesterday'),
} satisfies Record<string, (record: Record<string, unknown>, tenantKey: string) => void>;

export type DefectKind = keyof typeof DEFECTS;
const KINDS = Object.keys(DEFECTS) as DefectKind[];

/** Where the validator reports each defect (dotted path, tenant object first where it applies). */
export function defectPath(kind: DefectKind, tenantKey: string): string {
  const paths: Record<DefectKind, string> = {
    missing_required: `${tenantKey}.crmId`,
    bad_date: 'person.birthDate',
    wrong_type: 'loyalty.points',
    unknown_field: `${tenantKey}.favouriteColour`,
    bad_enum: 'person.gender',
    too_long: 'homeAddress.countryCode',
    bad_timestamp: `${tenantKey}.signupTimestamp`,
  };
  return paths[kind];
}

function field(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = record[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  const created: Record<string, unknown> = {};
  record[key] = created;
  return created;
}

export interface MalformedRow {
  /** 0-based position in the malformed file. */
  index: number;
  pid: number;
  defect: DefectKind;
}

/**
 * Exactly round(people × rate) rows, spread evenly over the people (so each part knows its own without
 * counting anything) and cycling through the defect kinds.
 */
export function planMalformed(people: number, rate: number): MalformedRow[] {
  const count = Math.min(people, Math.round(people * rate));
  return Array.from({ length: count }, (_, index) => ({ index, pid: Math.floor(((index + 0.5) * people) / count), defect: KINDS[index % KINDS.length]! }));
}

/** Breaks one valid record (a JSON line of the profiles dataset) and returns the broken line. */
export function breakRecord(line: string, defect: DefectKind, tenantKey: string): string {
  const record = JSON.parse(line) as Record<string, unknown>;
  DEFECTS[defect](record, tenantKey);
  return JSON.stringify(record);
}

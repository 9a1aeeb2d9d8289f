/**
 * The segment builder's canvas (reference §10.1) over the rule model of `src/audiences/builder/model.ts`: the
 * fields rail (attributes, events with Event Types shortcuts, audiences; search), and the rule canvas with
 * containers (include / exclude, and / or, nest, unwrap), attribute, event, sequence and audience cards, count
 * functions, aggregations and time constraints at canvas and card level. Tiles and cards move by HTML5 drag
 * and drop; the keyboard alternative is to mark a container as the target and press a tile (Enter), and the
 * move up / down / out buttons on each card.
 */
import { useState, type DragEvent } from 'react';
import type { AudienceBlock, Aggregation, AttributeBlock, EventBlock, EventCondition, RuleBlock, RuleContainer, SegmentRule, SequenceBlock, TimeConstraint, Value } from '../../../src/audiences/builder/model.ts';
import type { XdmField } from './xdm-fields.ts';

export type Path = number[];
export interface SegmentRef {
  id: string;
  name: string;
}

const OPERATORS: AttributeBlock['operator'][] = ['equals', 'notEquals', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual', 'contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'like', 'matches', 'in', 'notIn', 'exists', 'notExists', 'time'];
const UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'] as const;
const TIME_TYPES: TimeConstraint['type'][] = ['today', 'yesterday', 'thisMonth', 'thisYear', 'customDate', 'inLast', 'inNext', 'fromTo', 'during', 'within', 'before', 'after', 'rollingRange', 'exists', 'notExists'];
export const EVENT_TYPES = ['commerce.purchases', 'commerce.productViews', 'commerce.productListAdds', 'commerce.productListRemovals', 'commerce.checkouts', 'web.webpagedetails.pageViews', 'directMarketing.emailSent', 'directMarketing.emailOpened', 'directMarketing.emailClicked', 'directMarketing.emailUnsubscribed'];

const TILE = 'application/x-rt-tile';
const BLOCK = 'application/x-rt-block';

export type Tile = { kind: 'attribute'; field: XdmField } | { kind: 'eventType'; eventType: string } | { kind: 'eventField'; field: XdmField } | { kind: 'audience'; segmentId: string };

/** The card a tile makes when it lands on the canvas. */
export function blockOfTile(tile: Tile): RuleBlock {
  switch (tile.kind) {
    case 'attribute':
      return tile.field.type === 'map'
        ? { kind: 'attribute', field: tile.field.path, mapKey: '', operator: 'equals', value: '' }
        : { kind: 'attribute', field: tile.field.path, operator: tile.field.type === 'date' || tile.field.type === 'date-time' ? 'exists' : 'equals', ...(tile.field.type === 'date' || tile.field.type === 'date-time' ? {} : { value: '' }) };
    case 'eventType':
      return { kind: 'event', conditions: [{ kind: 'eventType', eventType: tile.eventType }], time: { type: 'inLast', amount: 30, unit: 'day' } };
    case 'eventField':
      return { kind: 'event', conditions: [{ kind: 'eventField', field: tile.field.path, operator: 'exists' }] };
    case 'audience':
      return { kind: 'audience', segmentId: tile.segmentId, membership: 'include' };
  }
}

// ── tree edits (immutable) ─────────────────────────────────────────────────────────────────────────────────
function containerAt(root: RuleContainer, path: Path): RuleContainer {
  let node: RuleBlock = root;
  for (const i of path) node = (node as RuleContainer).children[i]!;
  return node as RuleContainer;
}

function updateAt(root: RuleContainer, path: Path, fn: (block: RuleBlock) => RuleBlock | null): RuleContainer {
  if (path.length === 0) return fn(root) as RuleContainer;
  const [head, ...rest] = path as [number, ...number[]];
  const children = [...root.children];
  if (rest.length === 0) {
    const next = fn(children[head]!);
    if (next) children[head] = next;
    else children.splice(head, 1);
  } else children[head] = updateAt(children[head] as RuleContainer, rest, fn);
  return { ...root, children };
}

export function insertInto(root: RuleContainer, containerPath: Path, block: RuleBlock, index?: number): RuleContainer {
  return updateAt(root, containerPath, (c) => {
    const children = [...(c as RuleContainer).children];
    children.splice(index ?? children.length, 0, block);
    return { ...(c as RuleContainer), children };
  });
}

function blockAt(root: RuleContainer, path: Path): RuleBlock {
  return containerAt(root, path.slice(0, -1)).children[path[path.length - 1]!]!;
}

const isPrefix = (a: Path, b: Path) => a.length <= b.length && a.every((v, i) => b[i] === v);

/** Moves a card into a container (not into itself); indices after the removal are adjusted. */
export function moveBlock(root: RuleContainer, from: Path, toContainer: Path): RuleContainer {
  if (isPrefix(from, toContainer)) return root;
  const block = blockAt(root, from);
  const removed = updateAt(root, from, () => null);
  const parent = from.slice(0, -1);
  const at = from[from.length - 1]!;
  const target = toContainer.map((v, i) => (i === parent.length && isPrefix(parent, toContainer) && v > at ? v - 1 : v));
  return insertInto(removed, target, block);
}

// ── editors ────────────────────────────────────────────────────────────────────────────────────────────────
function parseValue(text: string, type: string | undefined): Value {
  if ((type === 'number' || type === 'integer') && /^-?\d+(\.\d+)?$/.test(text.trim())) return Number(text);
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  if ((type === 'date' || type === 'date-time') && /^\d{4}-\d{2}-\d{2}$/.test(text)) return { date: text };
  return /^-?\d+(\.\d+)?$/.test(text.trim()) && type === undefined ? Number(text) : text;
}
const valueText = (v: Value | undefined): string => (v === undefined ? '' : typeof v === 'object' ? v.date : String(v));

function TimeEditor({ value, onChange, label }: { value: TimeConstraint | undefined; onChange: (t: TimeConstraint | undefined) => void; label: string }) {
  const t = value as (TimeConstraint & Record<string, unknown>) | undefined;
  const set = (patch: Record<string, unknown>) => onChange({ ...(t ?? {}), ...patch } as TimeConstraint);
  const num = (key: string, fallback: number) => (
    <input type="number" aria-label={`${label} ${key}`} min={0} style={{ width: '5em' }} value={Number(t?.[key] ?? fallback)} onChange={(e) => set({ [key]: Number(e.target.value) })} />
  );
  const date = (key: string) => <input type="date" aria-label={`${label} ${key}`} value={typeof t?.[key] === 'string' ? t[key] : ''} onChange={(e) => set({ [key]: e.target.value })} />;
  const unit = (key = 'unit') => (
    <select aria-label={`${label} unit`} value={typeof t?.[key] === 'string' ? t[key] : 'day'} onChange={(e) => set({ [key]: e.target.value })}>
      {UNITS.map((u) => (
        <option key={u}>{u}</option>
      ))}
    </select>
  );
  const defaults: Record<string, Record<string, unknown>> = {
    customDate: { date: new Date().toISOString().slice(0, 10) },
    inLast: { amount: 30, unit: 'day' },
    inNext: { amount: 7, unit: 'day' },
    fromTo: { from: new Date().toISOString().slice(0, 10), to: new Date().toISOString().slice(0, 10) },
    during: { year: new Date().getUTCFullYear(), month: new Date().getUTCMonth() + 1 },
    within: { date: new Date().toISOString().slice(0, 10), amount: 3, unit: 'day' },
    before: { date: new Date().toISOString().slice(0, 10) },
    after: { date: new Date().toISOString().slice(0, 10) },
    rollingRange: { from: { amount: 14, unit: 'day', direction: 'before' }, to: { amount: 7, unit: 'day', direction: 'before' } },
  };
  return (
    <span className="row">
      <select aria-label={label} value={t?.type ?? ''} onChange={(e) => onChange(e.target.value ? ({ type: e.target.value, ...defaults[e.target.value] } as TimeConstraint) : undefined)}>
        <option value="">any time</option>
        {TIME_TYPES.map((x) => (
          <option key={x}>{x}</option>
        ))}
      </select>
      {(t?.type === 'inLast' || t?.type === 'inNext') && (
        <>
          {num('amount', 1)}
          {unit()}
        </>
      )}
      {(t?.type === 'customDate' || t?.type === 'before' || t?.type === 'after') && date('date')}
      {t?.type === 'fromTo' && (
        <>
          {date('from')} – {date('to')}
        </>
      )}
      {t?.type === 'during' && (
        <>
          {num('month', 1)} / {num('year', 2024)}
        </>
      )}
      {t?.type === 'within' && (
        <>
          ± {num('amount', 1)} {unit()} of {date('date')}
        </>
      )}
      {t && ['today', 'yesterday', 'thisMonth', 'customDate', 'fromTo', 'during', 'before', 'after'].includes(t.type) && (
        <label className="check">
          <input type="checkbox" checked={Boolean(t.ignoreYear)} onChange={(e) => set({ ignoreYear: e.target.checked || undefined })} /> Ignore year
        </label>
      )}
    </span>
  );
}

function ConditionEditor({ block, onChange, fieldType }: { block: Omit<AttributeBlock, 'kind'>; onChange: (b: Omit<AttributeBlock, 'kind'>) => void; fieldType?: string }) {
  const op = block.operator;
  return (
    <span className="row">
      <code>{block.field}</code>
      {block.mapKey !== undefined && (
        <label>
          map key
          <input value={block.mapKey} onChange={(e) => onChange({ ...block, mapKey: e.target.value })} style={{ width: '7em' }} />
        </label>
      )}
      <select aria-label={`Operator of ${block.field}`} value={op} onChange={(e) => onChange({ ...block, operator: e.target.value as AttributeBlock['operator'] })}>
        {OPERATORS.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
      {(op === 'in' || op === 'notIn') && (
        <input aria-label={`Values of ${block.field}`} placeholder="comma-separated, up to 250" value={(block.values ?? []).map(valueText).join(', ')} onChange={(e) => onChange({ ...block, value: undefined, values: e.target.value.split(',').map((v) => v.trim()).filter(Boolean).map((v) => parseValue(v, fieldType)) })} />
      )}
      {op === 'time' && <TimeEditor label={`Time of ${block.field}`} value={block.time} onChange={(t) => onChange({ ...block, time: t })} />}
      {!['in', 'notIn', 'exists', 'notExists', 'time'].includes(op) && (
        <input aria-label={`Value of ${block.field}`} value={valueText(block.value)} onChange={(e) => onChange({ ...block, values: undefined, value: parseValue(e.target.value, fieldType) })} />
      )}
    </span>
  );
}

function EventConditions({ conditions, onChange }: { conditions: EventCondition[]; onChange: (c: EventCondition[]) => void }) {
  return (
    <>
      {conditions.map((c, i) =>
        c.kind === 'eventType' ? (
          <label key={i}>
            Event type
            <input list="event-types" value={c.eventType} onChange={(e) => onChange(conditions.map((o, j) => (j === i ? { kind: 'eventType', eventType: e.target.value } : o)))} />
          </label>
        ) : (
          <ConditionEditor key={i} block={c} onChange={(b) => onChange(conditions.map((o, j) => (j === i ? { kind: 'eventField', ...b } : o)))} />
        ),
      )}
    </>
  );
}

function EventEditor({ block, onChange }: { block: EventBlock; onChange: (b: EventBlock) => void }) {
  const count = block.count;
  const fn = block.aggregation ? 'aggregation' : (count?.fn ?? 'atLeast');
  const setFn = (next: string) => {
    const { count: _c, aggregation: _a, ...rest } = block;
    if (next === 'aggregation') onChange({ ...rest, aggregation: { fn: 'sum', field: 'commerce.order.priceTotal', comparison: '>', value: 100 } });
    else if (next === 'between') onChange({ ...rest, count: { fn: 'between', min: 1, max: 3 } });
    else if (next === 'all') onChange({ ...rest, count: { fn: 'all' } });
    else onChange({ ...rest, count: { fn: next as 'atLeast', n: 1 } });
  };
  const agg = block.aggregation;
  const setAgg = (patch: Partial<Aggregation>) => agg && onChange({ ...block, aggregation: { ...agg, ...patch } });
  return (
    <div>
      <EventConditions conditions={block.conditions} onChange={(conditions) => onChange({ ...block, conditions })} />
      <span className="row">
        <select aria-label="Count function" value={fn} onChange={(e) => setFn(e.target.value)}>
          <option value="atLeast">At least</option>
          <option value="atMost">At most</option>
          <option value="exactly">Exactly</option>
          <option value="between">Between</option>
          <option value="all">All</option>
          <option value="aggregation">Aggregation (SUM, AVERAGE, MIN, MAX)</option>
        </select>
        {count && 'n' in count && <input type="number" aria-label="Count" min={0} style={{ width: '5em' }} value={count.n} onChange={(e) => onChange({ ...block, count: { ...count, n: Number(e.target.value) } })} />}
        {count?.fn === 'between' && (
          <>
            <input type="number" aria-label="Minimum" style={{ width: '5em' }} value={count.min} onChange={(e) => onChange({ ...block, count: { ...count, min: Number(e.target.value) } })} /> and{' '}
            <input type="number" aria-label="Maximum" style={{ width: '5em' }} value={count.max} onChange={(e) => onChange({ ...block, count: { ...count, max: Number(e.target.value) } })} />
          </>
        )}
        {agg && (
          <>
            <select aria-label="Aggregation" value={agg.fn} onChange={(e) => setAgg({ fn: e.target.value as Aggregation['fn'] })}>
              {['sum', 'average', 'min', 'max'].map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
            of <input aria-label="Aggregated field" value={agg.field} onChange={(e) => setAgg({ field: e.target.value })} />
            <select aria-label="Comparison" value={agg.comparison} onChange={(e) => setAgg({ comparison: e.target.value as Aggregation['comparison'] })}>
              {['=', '!=', '<', '<=', '>', '>='].map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <input type="number" aria-label="Aggregation value" style={{ width: '6em' }} value={agg.value} onChange={(e) => setAgg({ value: Number(e.target.value) })} />
          </>
        )}
        {!agg && !count && <span className="hint">1 event</span>}
      </span>
      <TimeEditor label="Card time" value={block.time} onChange={(time) => onChange({ ...block, time })} />
    </div>
  );
}

function SequenceEditor({ block, onChange }: { block: SequenceBlock; onChange: (b: SequenceBlock) => void }) {
  return (
    <ol>
      {block.steps.map((step, i) => (
        <li key={i}>
          <EventConditions conditions={step.conditions} onChange={(conditions) => onChange({ ...block, steps: block.steps.map((s, j) => (j === i ? { ...s, conditions } : s)) })} />
          {step.between && (
            <span className="hint">
              {step.between.after && ` at least ${step.between.after.amount} ${step.between.after.unit} after`}
              {step.between.within && ` within ${step.between.within.amount} ${step.between.within.unit}`}
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}

export interface CanvasProps {
  rule: SegmentRule;
  onChange: (rule: SegmentRule) => void;
  segments: SegmentRef[];
  fields: Map<string, XdmField>;
  target: Path;
  onTarget: (path: Path) => void;
}

function BlockCard({ block, path, props, siblings }: { block: RuleBlock; path: Path; props: CanvasProps; siblings: number }) {
  const root = props.rule.root;
  const set = (next: RuleBlock | null) => props.onChange({ ...props.rule, root: updateAt(root, path, () => next) });
  const index = path[path.length - 1]!;
  const parent = path.slice(0, -1);
  const move = (delta: number) => {
    const block = blockAt(root, path);
    const removed = updateAt(root, path, () => null);
    props.onChange({ ...props.rule, root: insertInto(removed, parent, block, index + delta) });
  };
  const moveOut = () => props.onChange({ ...props.rule, root: moveBlock(root, path, parent.slice(0, -1)) });
  let body: React.JSX.Element;
  let title: string;
  if (block.kind === 'container') return <ContainerView container={block} path={path} props={props} onRemove={() => set(null)} />;
  if (block.kind === 'attribute') {
    title = 'Attribute';
    body = <ConditionEditor block={block} fieldType={props.fields.get(block.field)?.type} onChange={(b) => set({ kind: 'attribute', ...b })} />;
  } else if (block.kind === 'event') {
    title = 'Event';
    body = <EventEditor block={block} onChange={set} />;
  } else if (block.kind === 'sequence') {
    title = 'Sequence (then…)';
    body = <SequenceEditor block={block} onChange={set} />;
  } else {
    const b: AudienceBlock = block;
    title = 'Audience';
    body = (
      <span className="row">
        <select aria-label="Membership" value={b.membership} onChange={(e) => set({ ...b, membership: e.target.value as 'include' })}>
          <option value="include">Include members of</option>
          <option value="exclude">Exclude members of</option>
        </select>
        <strong>{props.segments.find((s) => s.id === b.segmentId)?.name ?? b.segmentId}</strong>
      </span>
    );
  }
  return (
    <div className="block" draggable onDragStart={(e) => (e.stopPropagation(), e.dataTransfer.setData(BLOCK, JSON.stringify(path)))} aria-label={`${title} rule`}>
      <div className="row spread">
        <small>{title}</small>
        <span>
          <button type="button" aria-label="Move up" disabled={index === 0} onClick={() => move(-1)}>
            ↑
          </button>
          <button type="button" aria-label="Move down" disabled={index === siblings - 1} onClick={() => move(1)}>
            ↓
          </button>
          {parent.length > 0 && (
            <button type="button" aria-label="Move out of the container" onClick={moveOut}>
              ⇱
            </button>
          )}
          <button type="button" aria-label={`Remove ${title.toLowerCase()} rule`} onClick={() => set(null)}>
            ×
          </button>
        </span>
      </div>
      {body}
    </div>
  );
}

function ContainerView({ container, path, props, onRemove }: { container: RuleContainer; path: Path; props: CanvasProps; onRemove?: () => void }) {
  const [over, setOver] = useState(false);
  const root = props.rule.root;
  const set = (next: RuleContainer) => props.onChange({ ...props.rule, root: updateAt(root, path, () => next) });
  const targeted = props.target.length === path.length && isPrefix(props.target, path);
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    event.stopPropagation();
    setOver(false);
    const tile = event.dataTransfer.getData(TILE);
    const from = event.dataTransfer.getData(BLOCK);
    if (tile) props.onChange({ ...props.rule, root: insertInto(root, path, blockOfTile(JSON.parse(tile) as Tile)) });
    else if (from) props.onChange({ ...props.rule, root: moveBlock(root, JSON.parse(from) as Path, path) });
  };
  const unwrap = () => {
    const parent = path.slice(0, -1);
    const at = path[path.length - 1]!;
    props.onChange({
      ...props.rule,
      root: updateAt(root, parent, (p) => {
        const children = [...(p as RuleContainer).children];
        children.splice(at, 1, ...container.children);
        return { ...(p as RuleContainer), children };
      }),
    });
  };
  return (
    <div
      className={`rule-container ${container.mode}${over ? ' drop' : ''}`}
      aria-label={path.length === 0 ? 'Rule canvas' : 'Container'}
      onDragOver={(e) => (e.preventDefault(), e.stopPropagation(), setOver(true))}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      draggable={path.length > 0}
      onDragStart={(e) => (e.stopPropagation(), e.dataTransfer.setData(BLOCK, JSON.stringify(path)))}
    >
      <div className="row">
        <select aria-label="Include or exclude" value={container.mode} onChange={(e) => set({ ...container, mode: e.target.value as 'include' })}>
          <option value="include">Include</option>
          <option value="exclude">Exclude</option>
        </select>
        <select aria-label="Combine with" value={container.combinator} onChange={(e) => set({ ...container, combinator: e.target.value as 'and' })}>
          <option value="and">all of (and)</option>
          <option value="or">any of (or)</option>
        </select>
        <button type="button" aria-pressed={targeted} onClick={() => props.onTarget(path)} title="Tiles pressed in the rail are added here">
          {targeted ? '● adding here' : 'Add rules here'}
        </button>
        <button type="button" onClick={() => set({ ...container, children: [...container.children, { kind: 'container', mode: 'include', combinator: 'and', children: [] }] })}>
          + Container
        </button>
        {path.length > 0 && (
          <>
            <button type="button" onClick={unwrap}>
              Unwrap container
            </button>
            <button type="button" aria-label="Remove container" onClick={onRemove}>
              ×
            </button>
          </>
        )}
      </div>
      {container.children.length === 0 && <p className="hint">Drag attributes, events or audiences here (or mark this container and press a tile in the rail).</p>}
      {container.children.map((child, i) => (
        <BlockCard key={`${path.join('.')}.${i}:${child.kind}`} block={child} path={[...path, i]} props={props} siblings={container.children.length} />
      ))}
    </div>
  );
}

export function RuleCanvas(props: CanvasProps) {
  return (
    <div>
      <datalist id="event-types">
        {EVENT_TYPES.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <div className="row">
        <span>Canvas time (every event without its own):</span>
        <TimeEditor label="Canvas time" value={props.rule.timeConstraint} onChange={(t) => props.onChange(t ? { ...props.rule, timeConstraint: t } : { version: 1, root: props.rule.root })} />
      </div>
      <ContainerView container={props.rule.root} path={[]} props={props} />
    </div>
  );
}

/** The fields rail: Attributes, Events (Event Types first), Audiences; a tile drags onto the canvas or, pressed, lands in the target container. */
export function FieldsRail({ attributes, events, segments, onAdd }: { attributes: XdmField[]; events: XdmField[]; segments: SegmentRef[]; onAdd: (tile: Tile) => void }) {
  const [tab, setTab] = useState<'attributes' | 'events' | 'audiences'>('attributes');
  const [search, setSearch] = useState('');
  const match = (text: string) => text.toLowerCase().includes(search.toLowerCase());
  const tiles: { key: string; label: string; tile: Tile; hint?: string }[] =
    tab === 'attributes'
      ? attributes.filter((f) => match(f.path)).map((f) => ({ key: f.path, label: f.path, tile: { kind: 'attribute', field: f }, hint: `${f.type} · ${f.schema}` }))
      : tab === 'events'
        ? [
            ...EVENT_TYPES.filter(match).map((t) => ({ key: `type:${t}`, label: `Event type: ${t}`, tile: { kind: 'eventType' as const, eventType: t } })),
            ...events.filter((f) => match(f.path)).map((f) => ({ key: f.path, label: f.path, tile: { kind: 'eventField' as const, field: f }, hint: f.type })),
          ]
        : segments.filter((s) => match(s.name)).map((s) => ({ key: s.id, label: s.name, tile: { kind: 'audience', segmentId: s.id }, hint: s.id }));
  return (
    <aside className="rail" aria-label="Fields">
      <div className="tabs" role="tablist">
        {(['attributes', 'events', 'audiences'] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t[0]!.toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      <input aria-label="Search fields" placeholder="Search…" value={search} onChange={(e) => setSearch(e.target.value)} />
      {tiles.length === 0 && <p className="hint">{tab === 'audiences' ? 'No saved audiences yet.' : 'No fields match; profile-enabled schemas provide them.'}</p>}
      {tiles.slice(0, 300).map((t) => (
        <button key={t.key} type="button" className="tile" draggable title={t.hint} onDragStart={(e) => e.dataTransfer.setData(TILE, JSON.stringify(t.tile))} onClick={() => onAdd(t.tile)}>
          {t.label}
        </button>
      ))}
    </aside>
  );
}

export { containerAt };

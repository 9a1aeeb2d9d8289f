/**
 * PQL printer: AST → canonical PQL text (the "code view"). Lower-case keywords, method style for methods,
 * infix `like`/`in`/`notIn`, the fewest parentheses that keep the tree, `not (…)` always parenthesised.
 * `parse(print(ast))` equals `ast` up to positions (a property test checks it).
 */
import type { PqlNode, TimeAnchor, TimeSpec } from './ast.ts';
import { lookupFunction } from './functions.ts';

/** Binding strength: higher binds tighter. */
const enum Level { Lowest = 0, Or = 1, And = 2, Not = 3, Compare = 4, Additive = 5, Multiplicative = 6, Unary = 7, Postfix = 8 }

const INFIX_CALLS = new Set(['like', 'in', 'notIn']);

/** What the parser will know at a point of the text: whether bare names mean the item, and bound variables. */
interface Ctx {
  itemDepth: number;
  variables: readonly string[];
}
const TOP: Ctx = { itemDepth: 0, variables: [] };

export function print(node: PqlNode, ctx: Ctx = TOP): string {
  return printAt(node, Level.Lowest, ctx);
}
const withVariables = (ctx: Ctx, ...names: string[]): Ctx => ({ ...ctx, variables: [...ctx.variables, ...names] });
const inItem = (ctx: Ctx): Ctx => ({ ...ctx, itemDepth: ctx.itemDepth + 1 });

function levelOf(node: PqlNode): Level {
  switch (node.kind) {
    case 'or': return Level.Or;
    case 'and': return Level.And;
    case 'not': return Level.Not;
    case 'compare': case 'occurs': return Level.Compare;
    case 'call': return INFIX_CALLS.has(node.name) ? Level.Compare : Level.Postfix;
    case 'arith': return node.op === '+' || node.op === '-' ? Level.Additive : Level.Multiplicative;
    case 'negate': return Level.Unary;
    case 'number': return node.value < 0 || Object.is(node.value, -0) ? Level.Unary : Level.Postfix;
    // Constructs that extend to the right are only safe where nothing follows them.
    case 'let': case 'quantifier': case 'select': case 'aggregate': case 'lambda': return Level.Lowest;
    default: return Level.Postfix;
  }
}

function printAt(node: PqlNode, minimum: Level, ctx: Ctx): string {
  const text = printBare(node, ctx);
  return levelOf(node) < minimum || (levelOf(node) === Level.Lowest && minimum > Level.Lowest) ? `(${text})` : text;
}

function printBare(node: PqlNode, ctx: Ctx): string {
  switch (node.kind) {
    case 'string': return quote(node.value);
    case 'number': return printNumber(node.value);
    case 'boolean': return String(node.value);
    case 'null': return 'null';
    case 'date': return `date(${node.year}, ${node.month}, ${node.day})`;
    case 'array': return `[${node.items.map((item) => printAt(item, Level.Or, ctx)).join(', ')}]`;
    case 'timeWord': return node.word;
    case 'ref': return node.binding === 'profile' && (ctx.itemDepth > 0 || ctx.variables.includes(node.name) || needsProfilePrefix(node.name)) ? `$1.${node.name}` : node.name;
    case 'member': return `${printAt(node.object, Level.Postfix, ctx)}.${node.name}`;
    case 'compare': return `${printAt(node.left, Level.Additive, ctx)} ${node.op} ${printAt(node.right, Level.Additive, ctx)}`;
    case 'arith': {
      const level = levelOf(node);
      // Left-associative: the right operand needs parentheses at the same level (a - (b - c)).
      return `${printAt(node.left, level, ctx)} ${node.op} ${printAt(node.right, level + 1, ctx)}`;
    }
    case 'negate': return `-${printAt(node.operand, Level.Unary, ctx)}`;
    case 'and': return `${printAt(node.left, Level.And, ctx)} and ${printAt(node.right, Level.Not, ctx)}`;
    case 'or': return `${printAt(node.left, Level.Or, ctx)} or ${printAt(node.right, Level.And, ctx)}`;
    case 'not': return `not (${print(node.operand, ctx)})`;
    case 'call': return printCall(node, ctx);
    case 'lambda': return `${node.param} => ${print(node.body, withVariables(ctx, node.param))}`;
    case 'quantifier': {
      let scope = ctx;
      const parts = node.bindings.map((b) => {
        const source = printAt(b.source, Level.Postfix, scope);
        scope = withVariables(scope, b.variable);
        return `${b.variable} from ${source}${b.where ? ` where ${printAt(b.where, Level.Or, scope)}` : ''}`;
      });
      return `${node.quantifier} ${parts.join(', ')}`;
    }
    case 'select': {
      const scope = withVariables(ctx, node.variable);
      return `select ${node.variable} from ${printAt(node.source, Level.Postfix, ctx)}${node.where ? ` where ${printAt(node.where, Level.Or, scope)}` : ''}`;
    }
    case 'aggregate': {
      const scope = withVariables(ctx, node.variable);
      return `${node.fn} ${node.value ? `${printAt(node.value, Level.Additive, scope)} ` : ''}over ${node.variable} from ${printAt(node.source, Level.Postfix, ctx)}${node.where ? ` where ${printAt(node.where, Level.Or, scope)}` : ''}`;
    }
    case 'let': {
      let scope = ctx;
      const parts = node.bindings.map((b) => {
        const value = printAt(b.value, Level.Postfix, scope);
        scope = withVariables(scope, b.name);
        return `${b.name} = ${value}`;
      });
      return `let ${parts.join(', ')} in ${print(node.body, scope)}`;
    }
    case 'occurs': return `${printAt(node.subject, Level.Additive, ctx)} occurs ${printTimeSpec(node.spec, ctx)}`;
    case 'chain':
      return `CHAIN(${printAt(node.source, Level.Postfix, ctx)}, ${node.timestampField}, [${node.steps.map((step) =>
        `${step.label}: WHAT(${print(step.what, inItem(ctx))})${step.when ? ` WHEN(${printTimeSpec(step.when, ctx)})` : ''}`).join(', ')}])`;
    case 'stepRef': return node.label;
  }
}

function printCall(node: Extract<PqlNode, { kind: 'call' }>, ctx: Ctx): string {
  const spec = lookupFunction(node.name);
  const args = node.args.map((arg, index) => {
    if (arg.kind === 'lambda') return print(arg, ctx);
    return printAt(arg, Level.Or, spec?.itemArgs?.includes(index) ? inItem(ctx) : ctx);
  });
  if (node.target === null) return `${node.name}(${args.join(', ')})`;
  if (INFIX_CALLS.has(node.name)) return `${printAt(node.target, Level.Additive, ctx)} ${node.name} ${printAt(node.args[0]!, Level.Additive, ctx)}`;
  return `${printAt(node.target, Level.Postfix, ctx)}.${node.name}(${args.join(', ')})`;
}

export function printTimeSpec(spec: TimeSpec, ctx: Ctx = TOP): string {
  switch (spec.type) {
    case 'word': return spec.word;
    case 'period': return `${spec.which} ${spec.amount === null ? '' : `${spec.amount} `}${unitText(spec.unit, spec.amount)}`;
    case 'direction': return `${spec.direction} ${printAnchor(spec.anchor, ctx)}`;
    case 'offset': return `${spec.comparison} ${spec.amount} ${unitText(spec.unit, spec.amount)} ${spec.direction} ${printAnchor(spec.anchor, ctx)}`;
    case 'between': return `between ${printAnchor(spec.from, ctx)} and ${printAnchor(spec.to, ctx)}`;
    case 'on': return `on ${printAnchor(spec.anchor, ctx)}`;
  }
}

function printAnchor(anchor: TimeAnchor, ctx: Ctx): string {
  return printAt(anchor, Level.Additive, ctx);
}

function unitText(unit: string, amount: number | null): string {
  if (amount === null || amount === 1) return unit;
  return unit === 'century' ? 'centuries' : unit === 'millennium' ? 'millennia' : `${unit}s`;
}

function printNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** Profile fields whose bare name the parser would read as something else (a keyword or a variable). */
function needsProfilePrefix(name: string): boolean {
  return /^(and|or|not|true|false|null|now|today|yesterday|tomorrow|xEvent|exists|forall|select|let|in|like|notIn|occurs)$/i.test(name);
}

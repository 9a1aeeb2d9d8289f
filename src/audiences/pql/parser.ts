/**
 * PQL parser: tokens → typed AST (`ast.ts`), recursive descent. It resolves every bare name (profile field,
 * item of an implicit-context function, bound variable, xEvent) and checks calls against the function table,
 * so that later stages never meet an unknown function or an unbound name.
 *
 * Precedence, loosest first: `or` · `and` · `not`/`!` · comparison (`=`, `occurs`, `like`, `in`, `notIn`; not
 * associative) · `+ -` · `* / %` · unary `-` · postfix (`.name`, `.name(…)`) · primary. `let`, `exists`,
 * `forall`, `select`, `sum … over` and lambdas extend as far to the right as they can.
 */
import { RoundtripError } from '../../core/errors.ts';
import type { Binding, ChainStep, ComparisonOp, PqlNode, Pos, TimeAnchor, TimeSpec, TimeUnit, TimeWord } from './ast.ts';
import { lookupFunction, suggestFunction, TEXT_TESTS, type FunctionSpec } from './functions.ts';
import { syntaxError, tokenize, type Token } from './lexer.ts';

const COMPARISONS: Record<string, ComparisonOp> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const TIME_WORDS = new Set<TimeWord>(['now', 'today', 'yesterday', 'tomorrow']);
const AGGREGATE_WORDS = new Set(['sum', 'count', 'average', 'min', 'max']);
const UNITS: Record<string, TimeUnit> = {};
for (const [unit, plural] of [['millisecond', 'milliseconds'], ['second', 'seconds'], ['minute', 'minutes'], ['hour', 'hours'], ['day', 'days'], ['week', 'weeks'],
  ['month', 'months'], ['year', 'years'], ['decade', 'decades'], ['century', 'centuries'], ['millennium', 'millennia']] as const) {
  UNITS[unit] = unit;
  UNITS[plural] = unit;
}

interface Scope {
  variables: string[];
  /** Names that stand for the whole profile (`(Profile) => Profile.x`, `$1`). */
  profileNames: string[];
  itemDepth: number;
  chainLabels: string[];
  /** While reading a `let` value, `in` ends the value instead of being the membership operator. */
  noIn: number;
}

export function parse(source: string): PqlNode {
  return new Parser(source).parseProgram();
}

/** Words that only ever join or negate conditions. */
const OPERATOR_WORDS = new Set(['and', 'or']);

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private readonly scope: Scope = { variables: [], profileNames: ['$1'], itemDepth: 0, chainLabels: [], noIn: 0 };

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
  }

  parseProgram(): PqlNode {
    if (this.peek().type === 'eof') throw this.error(this.peek(), 'The expression is empty');
    const node = this.parseExpression();
    if (this.peek().type !== 'eof') throw this.error(this.peek(), `Unexpected ${describe(this.peek())}; an operator such as 'and' may be missing`);
    return node;
  }

  // ── token helpers ────────────────────────────────────────────────────────────────────────────────────────
  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const token = this.peek();
    if (token.type !== 'eof') this.index += 1;
    return token;
  }
  private isWord(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.type === 'ident' && token.text.toLowerCase() === word.toLowerCase();
  }
  private isPunct(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.type === 'punct' && token.text === text;
  }
  private expectPunct(text: string, context: string): Token {
    if (!this.isPunct(text)) throw this.error(this.peek(), `Expected '${text}' ${context} but found ${describe(this.peek())}`);
    return this.next();
  }
  private expectWord(word: string, context: string): Token {
    if (!this.isWord(word)) throw this.error(this.peek(), `Expected '${word}' ${context} but found ${describe(this.peek())}`);
    return this.next();
  }
  private expectIdent(context: string): Token {
    if (this.peek().type !== 'ident') throw this.error(this.peek(), `Expected a name ${context} but found ${describe(this.peek())}`);
    return this.next();
  }
  private error(token: Token, message: string): RoundtripError {
    return syntaxError(this.source, token.offset, token.pos, message);
  }
  private withScope<T>(change: Partial<Scope>, body: () => T): T {
    const saved = { ...this.scope };
    Object.assign(this.scope, change);
    try {
      return body();
    } finally {
      Object.assign(this.scope, saved);
    }
  }

  // ── boolean layers ───────────────────────────────────────────────────────────────────────────────────────
  parseExpression(): PqlNode {
    return this.parseOr();
  }
  private parseOr(): PqlNode {
    let left = this.parseAnd();
    while (this.isWord('or') || this.isPunct('||')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd(), pos: left.pos };
    }
    return left;
  }
  private parseAnd(): PqlNode {
    let left = this.parseNot();
    while (this.isWord('and') || this.isPunct('&&')) {
      this.next();
      left = { kind: 'and', left, right: this.parseNot(), pos: left.pos };
    }
    return left;
  }
  private parseNot(): PqlNode {
    if (this.isWord('not') || this.isPunct('!')) {
      const token = this.next();
      return { kind: 'not', operand: this.parseNot(), pos: token.pos };
    }
    return this.parseComparison();
  }
  private parseComparison(): PqlNode {
    const left = this.parseAdditive();
    const token = this.peek();
    if (token.type === 'punct' && COMPARISONS[token.text]) {
      this.next();
      return { kind: 'compare', op: COMPARISONS[token.text]!, left, right: this.parseAdditive(), pos: left.pos };
    }
    if (this.isWord('occurs')) {
      this.next();
      return { kind: 'occurs', subject: left, spec: this.parseTimeSpec(), pos: left.pos };
    }
    const infix = this.isWord('like') ? 'like' : this.isWord('notIn') ? 'notIn' : this.isWord('in') && this.scope.noIn === 0 ? 'in' : null;
    if (infix) {
      const op = this.next();
      return { kind: 'call', name: infix, target: left, args: [this.parseAdditive()], pos: op.pos };
    }
    return left;
  }

  // ── arithmetic ───────────────────────────────────────────────────────────────────────────────────────────
  private parseAdditive(): PqlNode {
    let left = this.parseMultiplicative();
    while (this.isPunct('+') || this.isPunct('-')) {
      const op = this.next().text as '+' | '-';
      left = { kind: 'arith', op, left, right: this.parseMultiplicative(), pos: left.pos };
    }
    return left;
  }
  private parseMultiplicative(): PqlNode {
    let left = this.parseUnary();
    while (this.isPunct('*') || this.isPunct('/') || this.isPunct('%')) {
      const op = this.next().text as '*' | '/' | '%';
      left = { kind: 'arith', op, left, right: this.parseUnary(), pos: left.pos };
    }
    return left;
  }
  private parseUnary(): PqlNode {
    if (this.isPunct('-')) {
      const token = this.next();
      const operand = this.parseUnary();
      // Negative literals stay literals, so that printing and parsing agree on `-5`.
      if (operand.kind === 'number') return { kind: 'number', value: -operand.value, pos: token.pos };
      return { kind: 'negate', operand, pos: token.pos };
    }
    return this.parsePostfix();
  }
  private parsePostfix(): PqlNode {
    let node = this.parsePrimary();
    while (this.isPunct('.')) {
      this.next();
      const name = this.expectIdent("after '.'");
      if (this.isPunct('(')) node = this.parseCall(name, node);
      else node = { kind: 'member', object: node, name: name.text, pos: node.pos };
    }
    return node;
  }

  // ── calls ────────────────────────────────────────────────────────────────────────────────────────────────
  private resolveFunction(name: Token, method: boolean): FunctionSpec {
    const spec = lookupFunction(name.text);
    if (!spec) {
      const suggestion = suggestFunction(name.text);
      throw new RoundtripError('RT_PQL_UNKNOWN_FUNCTION',
        `Unknown function '${name.text}' at line ${name.pos.line}, column ${name.pos.column}${suggestion ? ` — did you mean ${suggestion}?` : ''}`,
        { line: name.pos.line, column: name.pos.column, near: name.text, suggestion });
    }
    if (method !== (spec.style === 'method')) {
      throw typeError(name.pos, method
        ? `'${spec.name}' is not called on a value; write ${spec.name}(…) at line ${name.pos.line}, column ${name.pos.column}`
        : `'${spec.name}' is called on a value, e.g. x.${spec.name}(…), at line ${name.pos.line}, column ${name.pos.column}`);
    }
    return spec;
  }

  private parseCall(name: Token, target: PqlNode | null): PqlNode {
    const spec = this.resolveFunction(name, target !== null);
    this.expectPunct('(', `after '${name.text}'`);
    const args: PqlNode[] = [];
    while (!this.isPunct(')')) {
      if (args.length > 0) this.expectPunct(',', `between the arguments of '${spec.name}'`);
      const itemArg = spec.itemArgs?.includes(args.length) ?? false;
      args.push(this.withScope({ noIn: 0 }, () => (itemArg ? this.parseItemArgument() : this.parseExpression())));
    }
    this.expectPunct(')', `to close '${spec.name}('`);
    if (args.length < spec.minArgs || args.length > spec.maxArgs) {
      const expected = spec.minArgs === spec.maxArgs ? `${spec.minArgs}` : `${spec.minArgs} to ${spec.maxArgs}`;
      throw typeError(name.pos, `'${spec.name}' takes ${expected} argument${spec.maxArgs === 1 ? '' : 's'} but got ${args.length}, at line ${name.pos.line}, column ${name.pos.column}`);
    }
    checkLiteralArguments(spec.name, args);
    return { kind: 'call', name: spec.name, target, args, pos: name.pos };
  }

  /** An argument evaluated per item: `cond` (unqualified names are the item's fields) or `e => cond`. */
  private parseItemArgument(): PqlNode {
    if (this.peek().type === 'ident' && this.isPunct('=>', 1)) {
      const param = this.next();
      this.next();
      const body = this.withScope({ variables: [...this.scope.variables, param.text] }, () => this.parseExpression());
      return { kind: 'lambda', param: param.text, body, pos: param.pos };
    }
    return this.withScope({ itemDepth: this.scope.itemDepth + 1 }, () => this.parseExpression());
  }

  // ── primaries ────────────────────────────────────────────────────────────────────────────────────────────
  private parsePrimary(): PqlNode {
    const token = this.peek();
    if (token.type === 'number') {
      this.next();
      return { kind: 'number', value: Number(token.text), pos: token.pos };
    }
    if (token.type === 'string') {
      this.next();
      return { kind: 'string', value: token.text, pos: token.pos };
    }
    if (token.type === 'punct') return this.parsePunctPrimary(token);
    if (token.type === 'ident') return this.parseWordPrimary(token);
    throw this.error(token, 'The expression ends too early; a value is missing');
  }

  private parsePunctPrimary(token: Token): PqlNode {
    if (token.text === '(') {
      // `(Profile) => Profile.homeAddress…`: the parameter names the profile itself.
      if (this.peek(1).type === 'ident' && this.isPunct(')', 2) && this.isPunct('=>', 3)) {
        const name = this.peek(1).text;
        this.index += 4;
        return this.withScope({ profileNames: [...this.scope.profileNames, name] }, () => this.parseExpression());
      }
      this.next();
      const inner = this.withScope({ noIn: 0 }, () => this.parseExpression());
      this.expectPunct(')', 'to close the parenthesis');
      return inner;
    }
    if (token.text === '[') {
      this.next();
      const items: PqlNode[] = [];
      while (!this.isPunct(']')) {
        if (items.length > 0) this.expectPunct(',', 'between the items of the list');
        items.push(this.withScope({ noIn: 0 }, () => this.parseExpression()));
      }
      this.next();
      return { kind: 'array', items, pos: token.pos };
    }
    throw this.error(token, `Unexpected ${describe(token)}; a value is missing`);
  }

  private parseWordPrimary(token: Token): PqlNode {
    const word = token.text.toLowerCase();
    const next = this.peek(1);
    const called = next.type === 'punct' && next.text === '(';
    if (word === 'true' || word === 'false') { this.next(); return { kind: 'boolean', value: word === 'true', pos: token.pos }; }
    if (word === 'null') { this.next(); return { kind: 'null', pos: token.pos }; }
    if (TIME_WORDS.has(word as TimeWord) && !called) { this.next(); return { kind: 'timeWord', word: word as TimeWord, pos: token.pos }; }
    if (word === 'date' && called) return this.parseDate();
    if (word === 'chain' && called) return this.parseChain();
    if ((word === 'exists' || word === 'forall') && next.type === 'ident' && this.isWord('from', 2)) return this.parseQuantifier(word);
    if (word === 'select' && next.type === 'ident' && this.isWord('from', 2)) return this.parseSelect();
    if (word === 'let' && next.type === 'ident' && this.isPunct('=', 2)) return this.parseLet();
    if (AGGREGATE_WORDS.has(word) && !called && !(next.type === 'punct' && next.text === '.') && this.findOver() !== null) return this.parseAggregate(word);
    if (called) {
      this.next();
      return this.parseCall(token, null);
    }
    // Boolean operators are never field names: `a = 1 and and` is a missing value, not a field called "and".
    if (OPERATOR_WORDS.has(word)) throw this.error(token, `Unexpected '${token.text}'; a value is missing before it`);
    this.next();
    return this.resolveName(token);
  }

  private resolveName(token: Token): PqlNode {
    const name = token.text;
    if (this.scope.variables.includes(name)) return { kind: 'ref', name, binding: 'variable', pos: token.pos };
    if (this.scope.profileNames.includes(name)) {
      this.expectPunct('.', `after '${name}' (it stands for the profile)`);
      const field = this.expectIdent(`after '${name}.'`);
      return { kind: 'ref', name: field.text, binding: 'profile', pos: field.pos };
    }
    if (name === 'xEvent') return { kind: 'ref', name, binding: 'xEvent', pos: token.pos };
    return { kind: 'ref', name, binding: this.scope.itemDepth > 0 ? 'item' : 'profile', pos: token.pos };
  }

  private parseDate(): PqlNode {
    const token = this.next();
    this.expectPunct('(', "after 'date'");
    const parts: number[] = [];
    while (!this.isPunct(')')) {
      if (parts.length > 0) this.expectPunct(',', "between the parts of 'date(year, month, day)'");
      const part = this.next();
      if (part.type !== 'number' || !Number.isInteger(Number(part.text))) throw typeError(part.pos, `'date' takes whole numbers: date(year, month, day), at line ${part.pos.line}, column ${part.pos.column}`);
      parts.push(Number(part.text));
    }
    this.next();
    const [year, month, day] = parts;
    if (parts.length !== 3 || month! < 1 || month! > 12 || day! < 1 || day! > 31) {
      throw typeError(token.pos, `'date' takes a year, a month (1-12) and a day (1-31), at line ${token.pos.line}, column ${token.pos.column}`);
    }
    return { kind: 'date', year: year!, month: month!, day: day!, pos: token.pos };
  }

  /** `exists E from xEvent where (…), I from E.productListItems where …` */
  private parseQuantifier(word: 'exists' | 'forall'): PqlNode {
    const token = this.next();
    const bindings: Binding[] = [];
    const variables = [...this.scope.variables];
    do {
      if (bindings.length > 0) this.next();
      const variable = this.expectIdent(`after '${word}'`);
      this.expectWord('from', `after '${word} ${variable.text}'`);
      const source = this.withScope({ variables }, () => this.parsePostfix());
      variables.push(variable.text);
      const where = this.isWord('where') ? (this.next(), this.withScope({ variables }, () => this.parseOr())) : null;
      bindings.push({ variable: variable.text, source, where, pos: variable.pos });
    } while (this.isPunct(',') && this.peek(1).type === 'ident' && this.isWord('from', 2));
    return { kind: 'quantifier', quantifier: word, bindings, pos: token.pos };
  }

  private parseSelect(): PqlNode {
    const token = this.next();
    const variable = this.expectIdent("after 'select'");
    this.expectWord('from', `after 'select ${variable.text}'`);
    const source = this.parsePostfix();
    const where = this.isWord('where')
      ? (this.next(), this.withScope({ variables: [...this.scope.variables, variable.text] }, () => this.parseOr()))
      : null;
    return { kind: 'select', variable: variable.text, source, where, pos: token.pos };
  }

  private parseLet(): PqlNode {
    const token = this.next();
    const bindings: { name: string; value: PqlNode; pos: Pos }[] = [];
    const variables = [...this.scope.variables];
    do {
      if (bindings.length > 0) this.next();
      const name = this.expectIdent("after 'let'");
      this.expectPunct('=', `after 'let ${name.text}'`);
      const value = this.withScope({ variables: [...variables], noIn: 1 }, () => this.parseExpression());
      variables.push(name.text);
      bindings.push({ name: name.text, value, pos: name.pos });
    } while (this.isPunct(','));
    this.expectWord('in', "after the values of 'let'");
    const body = this.withScope({ variables }, () => this.parseExpression());
    return { kind: 'let', bindings, body, pos: token.pos };
  }

  /** Index of the `over` that belongs to an aggregation starting here (same nesting level), or null. */
  private findOver(): number | null {
    let depth = 0;
    for (let i = this.index + 1; i < this.tokens.length; i += 1) {
      const token = this.tokens[i]!;
      if (token.type === 'punct' && (token.text === '(' || token.text === '[')) depth += 1;
      else if (token.type === 'punct' && (token.text === ')' || token.text === ']')) {
        if (depth === 0) return null;
        depth -= 1;
      } else if (depth === 0 && token.type === 'ident' && token.text.toLowerCase() === 'over') return i;
      else if (depth === 0 && token.type === 'punct' && token.text === ',') return null;
    }
    return null;
  }

  /** `sum X.price over X from xEvent where …` */
  private parseAggregate(word: string): PqlNode {
    const token = this.next();
    const over = this.findOverFrom(this.index - 1);
    const variable = this.tokens[over + 1];
    if (!variable || variable.type !== 'ident') throw this.error(this.tokens[over + 1] ?? token, `Expected a name after 'over'`);
    const variables = [...this.scope.variables, variable.text];
    const value = this.isWord('over') ? null : this.withScope({ variables }, () => this.parseAdditive());
    if (value === null && word !== 'count') throw this.error(this.peek(), `'${word} … over' needs a value before 'over'`);
    this.expectWord('over', `after the value of '${word}'`);
    this.next();
    this.expectWord('from', `after '${word} … over ${variable.text}'`);
    const source = this.parsePostfix();
    const where = this.isWord('where') ? (this.next(), this.withScope({ variables }, () => this.parseOr())) : null;
    return { kind: 'aggregate', fn: word as 'sum', value, variable: variable.text, source, where, pos: token.pos };
  }
  private findOverFrom(start: number): number {
    const saved = this.index;
    this.index = start;
    const found = this.findOver();
    this.index = saved;
    return found!;
  }

  // ── CHAIN ────────────────────────────────────────────────────────────────────────────────────────────────
  private parseChain(): PqlNode {
    const token = this.next();
    this.expectPunct('(', "after 'CHAIN'");
    const source = this.parsePostfix();
    this.expectPunct(',', "after the events of 'CHAIN' (CHAIN(xEvent, timestamp, [C0: WHAT(…) WHEN(…)]))");
    const timestampField = this.expectIdent("for the time field of 'CHAIN'").text;
    this.expectPunct(',', "after the time field of 'CHAIN'");
    this.expectPunct('[', "before the steps of 'CHAIN'");
    const steps: ChainStep[] = [];
    while (!this.isPunct(']')) {
      if (steps.length > 0) this.expectPunct(',', "between the steps of 'CHAIN'");
      steps.push(this.parseChainStep(steps.map((step) => step.label)));
    }
    this.next();
    this.expectPunct(')', "to close 'CHAIN('");
    if (steps.length === 0) throw this.error(this.peek(), "'CHAIN' needs at least one step");
    return { kind: 'chain', source, timestampField, steps, pos: token.pos };
  }
  private parseChainStep(labels: string[]): ChainStep {
    const label = this.expectIdent('for the label of a CHAIN step (e.g. C0)');
    if (labels.includes(label.text)) throw this.error(label, `The step label '${label.text}' is used twice`);
    this.expectPunct(':', `after the step label '${label.text}'`);
    this.expectWord('what', `after '${label.text}:'`);
    this.expectPunct('(', "after 'WHAT'");
    const what = this.withScope({ itemDepth: this.scope.itemDepth + 1 }, () => this.parseExpression());
    this.expectPunct(')', "to close 'WHAT('");
    let when: TimeSpec | null = null;
    if (this.isWord('when')) {
      this.next();
      this.expectPunct('(', "after 'WHEN'");
      when = this.withScope({ chainLabels: labels }, () => this.parseTimeSpec());
      this.expectPunct(')', "to close 'WHEN('");
    }
    return { label: label.text, what, when, pos: label.pos };
  }

  // ── time ─────────────────────────────────────────────────────────────────────────────────────────────────
  private parseTimeSpec(): TimeSpec {
    const token = this.peek();
    const word = token.type === 'ident' ? token.text.toLowerCase() : '';
    if (TIME_WORDS.has(word as TimeWord) && !this.isPunct('.', 1)) { this.next(); return { type: 'word', word: word as TimeWord }; }
    if (word === 'on') { this.next(); return { type: 'on', anchor: this.parseAnchor() }; }
    if (word === 'this' || word === 'last' || word === 'next') {
      this.next();
      const amount = this.peek().type === 'number' ? this.parseCount() : null;
      return { type: 'period', which: word, amount, unit: this.parseUnit() };
    }
    if (word === 'before' || word === 'after') { this.next(); return { type: 'direction', direction: word, anchor: this.parseAnchor() }; }
    if (word === 'between') {
      this.next();
      const from = this.parseAnchor();
      this.expectWord('and', "between the two times of 'between'");
      return { type: 'between', from, to: this.parseAnchor() };
    }
    let comparison: ComparisonOp = '=';
    if (token.type === 'punct' && COMPARISONS[token.text]) { this.next(); comparison = COMPARISONS[token.text]!; }
    if (this.peek().type !== 'number') {
      throw this.error(this.peek(), `Expected a time such as 'today', 'last 30 days', 'before now' or '<= 24 hours before now' but found ${describe(this.peek())}`);
    }
    const amount = this.parseCount();
    const unit = this.parseUnit();
    const direction = this.peek().text.toLowerCase();
    if (direction !== 'before' && direction !== 'after') throw this.error(this.peek(), `Expected 'before' or 'after' after '${amount} ${unit}s' but found ${describe(this.peek())}`);
    this.next();
    return { type: 'offset', comparison, amount, unit, direction, anchor: this.parseAnchor() };
  }
  private parseCount(): number {
    const token = this.next();
    const value = Number(token.text);
    if (!Number.isInteger(value) || value < 0) throw typeError(token.pos, `A time amount is a whole number, at line ${token.pos.line}, column ${token.pos.column}`);
    return value;
  }
  private parseUnit(): TimeUnit {
    const token = this.peek();
    const unit = token.type === 'ident' ? UNITS[token.text.toLowerCase()] : undefined;
    if (!unit) throw this.error(token, `Expected a time unit (days, weeks, months, …) but found ${describe(token)}`);
    this.next();
    return unit;
  }
  private parseAnchor(): TimeAnchor {
    const token = this.peek();
    if (token.type === 'ident' && this.scope.chainLabels.includes(token.text)) {
      this.next();
      return { kind: 'stepRef', label: token.text, pos: token.pos };
    }
    return this.parseAdditive();
  }
}

function typeError(pos: Pos, message: string): RoundtripError {
  return new RoundtripError('RT_PQL_TYPE', message, { line: pos.line, column: pos.column });
}

/** Arguments the engines need to know when compiling (case sensitivity, N of topN) must be literals. */
function checkLiteralArguments(name: string, args: PqlNode[]): void {
  if ((TEXT_TESTS as readonly string[]).includes(name) && args[1] && args[1].kind !== 'boolean') {
    throw typeError(args[1].pos, `The second argument of '${name}' says whether case matters: write true or false, at line ${args[1].pos.line}, column ${args[1].pos.column}`);
  }
  if ((name === 'topN' || name === 'bottomN') && !(args[1]?.kind === 'number' && Number.isInteger(args[1].value) && args[1].value >= 0)) {
    throw typeError(args[1]!.pos, `The second argument of '${name}' is how many items to keep: a whole number, at line ${args[1]!.pos.line}, column ${args[1]!.pos.column}`);
  }
  if (name === 'regexGroup' && args[1]?.kind !== 'number') {
    throw typeError(args[1]!.pos, `The second argument of 'regexGroup' is the group number, at line ${args[1]!.pos.line}, column ${args[1]!.pos.column}`);
  }
}

function describe(token: Token): string {
  if (token.type === 'eof') return 'the end of the expression';
  if (token.type === 'string') return `the text "${token.text}"`;
  return `'${token.text}'`;
}

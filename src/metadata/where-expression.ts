/**
 * The `--where` language of `ledge runs list`: comparisons over run fields, joined with
 * `and`, `or`, `not` and parentheses.
 *
 *     metrics.accuracy > 0.9 or params.train.epochs = 5
 *     status = failed and (stage = train or stage = evaluate)
 *     started >= 2026-11-01 and not name ~ 'smoke%'
 *
 * Fields: `params.<key>`, `metrics.<key>` (dotted for nested keys), `status`, `stage` / `name`,
 * `cause`, `commit`, `started`, `ended`. Operators: = != < <= > >= and ~ (SQL LIKE, % and _).
 * Values: numbers, bare words, 'quoted' or "quoted" strings, ISO dates.
 */
import { LedgeError } from '../core/errors.js';

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~';

export type WhereExpr =
  | { kind: 'and' | 'or'; left: WhereExpr; right: WhereExpr }
  | { kind: 'not'; operand: WhereExpr }
  | { kind: 'compare'; field: WhereField; op: CompareOp; value: string | number };

export type WhereField =
  | { kind: 'json'; column: 'params' | 'metrics'; path: string[] }
  | { kind: 'column'; column: 'status' | 'name' | 'cause' | 'git_commit' | 'started_at' | 'ended_at' };

const COLUMNS: Record<string, WhereField & { kind: 'column' }> = {
  status: { kind: 'column', column: 'status' },
  stage: { kind: 'column', column: 'name' },
  name: { kind: 'column', column: 'name' },
  cause: { kind: 'column', column: 'cause' },
  commit: { kind: 'column', column: 'git_commit' },
  started: { kind: 'column', column: 'started_at' },
  ended: { kind: 'column', column: 'ended_at' },
};

interface Token {
  type: 'word' | 'string' | 'op' | '(' | ')';
  text: string;
  at: number;
}

function fail(source: string, at: number, message: string): never {
  throw new LedgeError('usage', `--where: ${message} at column ${at + 1}: ${source}`, {
    hint: 'write e.g. "metrics.accuracy > 0.9 or params.train.epochs = 5"; quote values with spaces',
  });
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ type: c, text: c, at: i++ });
    } else if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) fail(source, i, 'unterminated string');
      tokens.push({ type: 'string', text: source.slice(i + 1, end), at: i });
      i = end + 1;
    } else {
      const op = /^(<=|>=|!=|=|<|>|~)/.exec(source.slice(i));
      if (op) {
        tokens.push({ type: 'op', text: op[1]!, at: i });
        i += op[1]!.length;
      } else {
        const word = /^[^\s()'"<>=!~]+/.exec(source.slice(i));
        if (!word) fail(source, i, `unexpected '${c}'`);
        tokens.push({ type: 'word', text: word[0], at: i });
        i += word[0].length;
      }
    }
  }
  return tokens;
}

function parseField(source: string, token: Token): WhereField {
  const name = token.text;
  const column = COLUMNS[name];
  if (column) return column;
  const match = /^(params|metrics)\.(.+)$/.exec(name);
  if (match && match[2]!.split('.').every((part) => /^[A-Za-z0-9_-]+$/.test(part))) {
    return { kind: 'json', column: match[1] as 'params' | 'metrics', path: match[2]!.split('.') };
  }
  return fail(
    source,
    token.at,
    `unknown field '${name}' (use params.<key>, metrics.<key>, ${Object.keys(COLUMNS).join(', ')})`,
  );
}

export function parseWhere(source: string): WhereExpr {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (word: string) => peek()?.type === 'word' && peek()!.text.toLowerCase() === word;
  const end = () =>
    tokens.length ? tokens[tokens.length - 1]!.at + tokens[tokens.length - 1]!.text.length : 0;

  /** One precedence level: `operand (word operand)*`, left-associative. */
  const level = (word: 'and' | 'or', operand: () => WhereExpr) => (): WhereExpr => {
    let left = operand();
    while (isWord(word)) {
      pos++;
      left = { kind: word, left, right: operand() };
    }
    return left;
  };
  const parseAnd = (): WhereExpr => level('and', parseNot)();
  const parseOr = level('or', parseAnd);
  const parseNot = (): WhereExpr => {
    if (isWord('not')) {
      pos++;
      return { kind: 'not', operand: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): WhereExpr => {
    const token = peek();
    if (!token) return fail(source, end(), 'expected a comparison');
    if (token.type === '(') {
      pos++;
      const inner = parseOr();
      if (peek()?.type !== ')') fail(source, peek()?.at ?? end(), "expected ')'");
      pos++;
      return inner;
    }
    if (token.type !== 'word') return fail(source, token.at, `expected a field, not '${token.text}'`);
    pos++;
    const field = parseField(source, token);
    const op = peek();
    if (op?.type !== 'op') return fail(source, op?.at ?? end(), `expected an operator after '${token.text}'`);
    pos++;
    const value = peek();
    if (!value || (value.type !== 'word' && value.type !== 'string')) {
      return fail(source, value?.at ?? end(), `expected a value after '${op.text}'`);
    }
    pos++;
    const numeric = value.type === 'word' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value.text);
    return {
      kind: 'compare',
      field,
      op: op.text as CompareOp,
      value: numeric ? Number(value.text) : value.text,
    };
  };

  const expr = parseOr();
  if (pos < tokens.length) fail(source, tokens[pos]!.at, `unexpected '${tokens[pos]!.text}'`);
  return expr;
}

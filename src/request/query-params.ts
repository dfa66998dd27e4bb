/**
 * The URL grammar of SPEC §3: a raw query string in, a {@link QueryAst} out. Knows nothing of the
 * schema; names are checked by the planner. Every malformed piece is a 400 naming its parameter.
 *
 * @example parseQuery('status=paid&total[gte]=100&include=customer&sort=-created_at&limit=10')
 */
import { badParam, SluiceError } from '../errors/registry.ts';
import { isOperator, type Condition, type CountMode, type EmbedOptions, type FilterNode, type Group, type Operator, type QueryAst, type SortItem } from '../ast/nodes.ts';

const MAX_GROUP_DEPTH = 8;
const SINGLE = new Set(['fields', 'sort', 'limit', 'offset', 'cursor', 'count', 'onConflict']);
const EMBED_OPTION = /^(.+)\.(limit|offset|sort)$/;
const GROUP_KEY = /^(?:(.+)\.)?(or|and)$/;
const OP_KEY = /^(.+)\[([^\]]*)\]$/;
const NAME = /^[^\s.,()[\]"]+$/;

function decode(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    throw badParam(what, 'malformed percent-encoding');
  }
}

/** Splits the raw query string into decoded key/value pairs, in order. */
export function splitQuery(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq), part.slice(0, 40));
    out.push([key, eq < 0 ? '' : decode(part.slice(eq + 1), key)]);
  }
  return out;
}

function path(text: string, param: string): string[] {
  const parts = text.split('.');
  if (parts.some((p) => !NAME.test(p))) throw badParam(param, `'${text}' is not a valid name or dotted path`);
  return parts;
}

function nonNegativeInt(value: string, param: string): number {
  if (!/^\d{1,15}$/.test(value)) throw badParam(param, `expected a non-negative integer, got '${value}'`);
  return Number(value);
}

/** `"a,b",c` → ['a,b', 'c']; backslash escapes a quote or backslash inside quotes. */
export function parseList(value: string, param: string): string[] {
  const items: string[] = [];
  let i = 0;
  if (value === '') return [''];
  while (i <= value.length) {
    if (value[i] === '"') {
      let item = '';
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        item += value[i++];
      }
      if (value[i] !== '"') throw badParam(param, 'unterminated quote in list');
      i++;
      if (i < value.length && value[i] !== ',') throw badParam(param, 'expected a comma after a quoted item');
      items.push(item);
      i++;
    } else {
      const next = value.indexOf(',', i);
      const end = next < 0 ? value.length : next;
      items.push(value.slice(i, end));
      i = end + 1;
    }
  }
  return items;
}

function parseSort(value: string, param: string): SortItem[] {
  if (value === '') throw badParam(param, 'expected a comma list of columns, each optionally prefixed with -');
  return value.split(',').map((item) => {
    const descending = item.startsWith('-');
    // '+' (or a space: an unencoded '+' decodes to one) marks ascending explicitly.
    const column = descending || item.startsWith('+') || item.startsWith(' ') ? item.slice(1) : item;
    if (!NAME.test(column)) {
      const hint = column.includes('.') ? '; to order embedded rows use <relation>.sort' : '';
      throw badParam(param, `'${item}' is not a column${hint}`);
    }
    return { column, descending };
  });
}

function operator(text: string, param: string): { op: Operator; negate: boolean } {
  const negate = text.startsWith('not.');
  const name = negate ? text.slice(4) : text;
  if (!isOperator(name)) {
    throw new SluiceError('SLUICE_UNKNOWN_OPERATOR', `${param}: unknown operator '${text}'; expected one of eq, ne, gt, gte, lt, lte, in, nin, like, ilike, null, search (optionally not.)`, [{ field: param, message: `unknown operator '${text}'` }]);
  }
  return { op: name, negate };
}

function condition(fullPath: string[], op: Operator, negate: boolean, raw: string | string[], param: string): Condition {
  if (op === 'null') {
    const v = Array.isArray(raw) ? raw.join(',') : raw;
    if (v !== 'true' && v !== 'false') throw badParam(param, `null takes true or false, got '${v}'`, 'SLUICE_INVALID_VALUE');
  }
  return Object.freeze({ kind: 'cond', path: fullPath.slice(0, -1), column: fullPath.at(-1)!, op, negate, value: raw, param });
}

/** Splits a group body on top-level commas, respecting parentheses and double quotes. */
function splitGroup(body: string, param: string): string[] {
  const items: string[] = [];
  let depth = 0, quoted = false, start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) throw badParam(param, 'unbalanced parentheses');
    } else if (c === ',' && depth === 0) {
      items.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw badParam(param, 'unterminated quote');
  if (depth !== 0) throw badParam(param, 'unbalanced parentheses');
  items.push(body.slice(start));
  return items;
}

function unquote(value: string, param: string): string {
  if (!value.startsWith('"')) return value;
  const items = parseList(value, param);
  if (items.length !== 1) throw badParam(param, `expected one quoted value, got ${value}`);
  return items[0]!;
}

/** `status.eq.paid`, `customer.country.not.in.(DE,FR)`, `or(…)`, `not.and(…)` */
function groupItem(text: string, param: string, depth: number): FilterNode {
  const g = /^(not\.)?(or|and)\((.*)\)$/s.exec(text);
  if (g) return group(g[2] as 'or' | 'and', Boolean(g[1]), [], g[3]!, param, depth + 1);
  const segments = text.split('.');
  for (let i = 1; i < segments.length; i++) {
    const negate = segments[i] === 'not' && isOperator(segments[i + 1] ?? '');
    if (!negate && !isOperator(segments[i]!)) continue;
    const op = segments[negate ? i + 1 : i] as Operator;
    const at = segments.slice(0, negate ? i + 2 : i + 1).join('.').length;
    if (text[at] !== '.') throw badParam(param, `'${text}': expected a value after '${op}'`);
    const columnPath = path(segments.slice(0, i).join('.'), param);
    const rawValue = text.slice(at + 1);
    if (op === 'in' || op === 'nin') {
      const list = rawValue.startsWith('(') && rawValue.endsWith(')') ? rawValue.slice(1, -1) : rawValue;
      return condition(columnPath, op, negate, list === '' && rawValue === '()' ? [] : parseList(list, param), param);
    }
    return condition(columnPath, op, negate, unquote(rawValue, param), param);
  }
  throw badParam(param, `'${text}' is not a condition; expected column.op.value (for example status.eq.paid)`);
}

function group(kind: 'or' | 'and', negate: boolean, scope: string[], value: string, param: string, depth: number): Group {
  if (depth > MAX_GROUP_DEPTH) throw badParam(param, `groups nest deeper than ${MAX_GROUP_DEPTH}`);
  const body = depth === 1 ? /^\((.*)\)$/s.exec(value)?.[1] : value;
  if (body === undefined) throw badParam(param, `expected (condition,condition,…), got '${value}'`);
  const items = splitGroup(body, param).map((item) => {
    if (item === '') throw badParam(param, 'empty condition in group');
    return groupItem(item, param, depth);
  });
  return Object.freeze({ kind, negate, path: scope, items: Object.freeze(items), param });
}

/** Parses the raw query string (without '?') of a request into the query AST. */
export function parseQuery(raw: string): QueryAst {
  const seen = new Set<string>();
  const filters: FilterNode[] = [];
  const include: string[][] = [];
  const embeds = new Map<string, { limit?: number; offset?: number; sort?: readonly SortItem[] }>();
  let fields: string[][] | null = null, sort: SortItem[] | null = null, onConflict: string[] | null = null;
  let limit: number | null = null, offset: number | null = null, cursor: string | null = null, count: CountMode | null = null;

  for (const [key, value] of splitQuery(raw)) {
    if (SINGLE.has(key) || EMBED_OPTION.test(key)) {
      if (seen.has(key)) throw badParam(key, 'given more than once');
      seen.add(key);
    }
    switch (key) {
      case 'fields':
        fields = value.split(',').map((f) => (f === '*' ? ['*'] : f.endsWith('.*') ? [...path(f.slice(0, -2), key), '*'] : path(f, key)));
        continue;
      case 'include':
        if (value === '') throw badParam(key, 'expected a comma list of relations');
        for (const rel of value.split(',')) include.push(path(rel, key));
        continue;
      case 'sort': sort = parseSort(value, key); continue;
      case 'limit': limit = nonNegativeInt(value, key); continue;
      case 'offset': offset = nonNegativeInt(value, key); continue;
      case 'cursor':
        if (value === '') throw badParam(key, 'expected the nextCursor of a previous page', 'SLUICE_INVALID_CURSOR');
        cursor = value;
        continue;
      case 'count':
        if (value !== 'exact' && value !== 'estimated') throw badParam(key, `expected exact or estimated, got '${value}'`);
        count = value;
        continue;
      case 'onConflict':
        onConflict = value.split(',').map((c) => path(c, key)).map((p) => {
          if (p.length > 1) throw badParam(key, 'expected columns of the resource');
          return p[0]!;
        });
        continue;
    }
    const groupKey = GROUP_KEY.exec(key);
    if (groupKey) {
      // `or`, `not.or`, `items.or`, `items.not.or`
      let scope = groupKey[1] ?? '';
      const negate = scope === 'not' || scope.endsWith('.not');
      if (negate) scope = scope.slice(0, -3).replace(/\.$/, '');
      filters.push(group(groupKey[2] as 'or' | 'and', negate, scope ? path(scope, key) : [], value, key, 1));
      continue;
    }
    const embed = EMBED_OPTION.exec(key);
    if (embed) {
      const at = path(embed[1]!, key).join('.');
      const opts = embeds.get(at) ?? {};
      if (embed[2] === 'sort') opts.sort = parseSort(value, key);
      else opts[embed[2] as 'limit' | 'offset'] = nonNegativeInt(value, key);
      embeds.set(at, opts);
      continue;
    }
    const opKey = OP_KEY.exec(key);
    const columnPath = path(opKey ? opKey[1]! : key, key);
    const { op, negate } = opKey ? operator(opKey[2]!, key) : { op: 'eq' as const, negate: false };
    filters.push(condition(columnPath, op, negate, op === 'in' || op === 'nin' ? parseList(value, key) : value, key));
  }
  return Object.freeze({
    filters: Object.freeze(filters), fields, include, sort, limit, offset, cursor, count,
    embeds: embeds as ReadonlyMap<string, EmbedOptions>, onConflict,
  });
}

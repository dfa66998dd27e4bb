/**
 * A small seeded grammar of query strings for GET /api/v1/orders: real and wrong column,
 * relation, operator and parameter names, SPEC §3 punctuation, numbers at the edges, broken
 * percent-escapes and random Unicode, put together mostly the way the grammar expects and
 * sometimes as plain token soup. Half of the strings are valid queries with a few random
 * mutations (tokens inserted, characters dropped or swapped), so that many get past the parser
 * into the planner and the database. The same seed always gives the same strings.
 *
 * @example const next = fuzzQueries(42); const query = next();
 */
import { OPERATORS } from '../../src/ast/nodes.ts';

/** mulberry32: a tiny seeded PRNG with values in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLUMNS = ['id', 'customer_id', 'status', 'total', 'created_at', 'totl', 'ID', '*'];
const RELATIONS = ['customer', 'items', 'products', 'order_items', 'nope', 'customer.orders', 'items.product', 'items.order.customer'];
const RELATED_COLUMNS = ['name', 'country', 'email', 'quantity', 'unit_price', 'price', 'sku', 'active', 'id'];
const OPS = [...OPERATORS, ...OPERATORS.map((o) => `not.${o}`), 'not', 'not.', 'not.not.eq', 'foo', 'EQ', ''];
const PARAMS = ['fields', 'include', 'sort', 'limit', 'offset', 'cursor', 'count', 'or', 'and', 'not.or', 'not.and', 'items.limit', 'items.sort', 'items.offset', 'items.or', 'customer.limit', 'customer.and', 'onConflict'];
const PUNCTUATION = ['.', ',', '(', ')', '[', ']', '"', '*', '-', '!', '=', '&', '%'];
const NUMBERS = ['0', '1', '-1', '1.5', '1e3', '-0', '99999999999999999999', '9223372036854775808', '2147483648', '2024-01-01', '2024-01-01T00:00:00Z', '2024-02-30', 'NaN', 'Infinity', '0x10', '1e999999', ''];
const WORDS = ['paid', 'shipped', 'true', 'false', 'null', 'exact', 'estimated', 'a*', '*paid*', 'DE', "'", "' or 1=1 --", '\\', 'eyJ0IjoieCIsInYiOlsiMSJdfQ', 'AAAA'];
const ESCAPES = ['%zz', '%', '%2C', '%00', '%C0%AF', '%ED%A0%80', '%F0%9F%92%A9', '%22', '%28', '%29', '%5B', '%5D', '%26', '%3D', '%25', '+', '%20', '%E2%80%AE', '%EF%BB%BF'];
/** Code point ranges for random Unicode: Latin-1, Greek, Hebrew (RTL), CJK, zero-width and combining marks, emoji. */
const UNICODE: ReadonlyArray<readonly [number, number]> = [[0xa0, 0xff], [0x370, 0x3ff], [0x5d0, 0x5ea], [0x4e00, 0x4e80], [0x200b, 0x200f], [0x300, 0x36f], [0x1f600, 0x1f64f]];

/** Valid queries of the shop's orders, the seeds of mutation. */
const VALID = [
  'status=paid', 'total[gte]=100', 'total[lt]=50.5', 'id[in]=1,2,3', 'status[nin]=paid,shipped', 'customer_id[not.eq]=7',
  'customer.country=DE', 'created_at[gt]=2024-01-01T00:00:00Z', 'status[like]=p*', 'status[ilike]=*ED', 'status[null]=false',
  'or=(status.eq.paid,total.gt.100)', 'and=(total.gt.10,or(status.eq.paid,status.eq.shipped))', 'not.or=(id.lt.5,id.gt.10)',
  'include=customer', 'include=items.product', 'include=customer,items&items.limit=2&items.sort=-quantity', 'include=items&items.or=(quantity.gt.2)',
  'fields=id,total,customer.name', 'sort=-created_at,id', 'sort=total', 'limit=5', 'offset=10', 'count=exact', 'count=estimated',
  'customer.or=(country.eq.DE,country.eq.FR)', 'status[in]="paid",shipped', 'id[gt]=9990',
];

export function fuzzQueries(seed: number): () => string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => rand() < p;

  const unicode = () => {
    const [lo, hi] = pick(UNICODE);
    return encodeURIComponent(String.fromCodePoint(lo + int(hi - lo + 1)));
  };
  const token = (): string => {
    switch (int(8)) {
      case 0: return pick(COLUMNS);
      case 1: return pick(RELATIONS);
      case 2: return pick(OPS);
      case 3: return pick(PUNCTUATION);
      case 4: return pick(NUMBERS);
      case 5: return pick(WORDS);
      case 6: return pick(ESCAPES);
      default: return unicode();
    }
  };
  const soup = (max: number) => Array.from({ length: 1 + int(max) }, token).join('');
  const name = (): string => {
    const r = int(10);
    if (r < 5) return pick(COLUMNS);
    if (r < 8) return `${pick(RELATIONS)}.${pick(RELATED_COLUMNS)}`;
    return soup(3);
  };
  const list = (): string => Array.from({ length: 1 + int(4) }, () => (chance(0.2) ? `"${pick([...WORDS, ...NUMBERS])},${token()}"` : pick([...WORDS, ...NUMBERS]))).join(',');
  const condition = (depth: number): string => {
    if (depth < 3 && chance(0.25)) return `${chance(0.2) ? 'not.' : ''}${pick(['or', 'and'])}(${group(depth + 1)})`;
    const op = pick(OPS);
    const value = op.endsWith('in') ? `(${list()})` : chance(0.8) ? pick([...WORDS, ...NUMBERS]) : soup(3);
    return chance(0.9) ? `${name()}.${op}.${value}` : soup(5);
  };
  const group = (depth: number): string => Array.from({ length: int(4) }, () => condition(depth)).join(chance(0.9) ? ',' : pick(PUNCTUATION));
  const value = (key: string): string => {
    if (/^(not\.)?(or|and)$|\.(or|and)$/.test(key)) return chance(0.85) ? `(${group(1)})` : soup(6);
    if (key === 'fields' || key === 'include' || key.endsWith('sort')) {
      return Array.from({ length: 1 + int(3) }, () => `${chance(0.2) ? '-' : ''}${chance(0.5) ? name() : pick(RELATIONS)}`).join(chance(0.9) ? ',' : pick(PUNCTUATION));
    }
    if (/limit|offset/.test(key)) return chance(0.8) ? pick(NUMBERS) : soup(2);
    if (key.includes('[in]') || key.includes('[nin]') || key.includes('[not.in]')) return list();
    return chance(0.7) ? pick([...WORDS, ...NUMBERS]) : soup(4);
  };
  const part = (): string => {
    const r = int(10);
    if (r === 0) return soup(8);
    const key = r < 4 ? pick(PARAMS) : r < 8 ? `${name()}[${pick(OPS)}]` : name();
    return chance(0.95) ? `${key}=${value(key)}` : key;
  };
  const grammar = () => Array.from({ length: 1 + int(5) }, part).join(chance(0.95) ? '&' : pick(['&&', '=', '&=&']));
  const mutate = (text: string): string => {
    const at = int(text.length + 1);
    switch (int(4)) {
      case 0: return text.slice(0, at) + token() + text.slice(at);
      case 1: return text.slice(0, at) + text.slice(at + 1 + int(3));
      case 2: return text.slice(0, at) + pick(PUNCTUATION) + text.slice(at + 1);
      default: return text.slice(0, at) + text.slice(at, at + 1).repeat(2) + text.slice(at + 1);
    }
  };
  const mutated = () => {
    let text = Array.from({ length: 1 + int(3) }, () => pick(VALID)).join('&');
    for (let n = int(3); n > 0; n--) text = mutate(text);
    return text;
  };
  return () => (chance(0.5) ? grammar() : mutated());
}

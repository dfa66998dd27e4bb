/**
 * Parameters of the OpenAPI document: the query language of SPEC §3 per resource (one filter per
 * column, `fields`, `include`, `sort`, paging) and the row key of `/{res}/{id}`.
 *
 * A filter is one `deepObject` parameter named after its column whose properties are the
 * operators valid for the column's type: `{ "gte": 100 }` serialises to `total[gte]=100`, exactly
 * the grammar, and keeps (name, in) unique while Swagger UI renders one input per column.
 */
import type { Config } from '../config/schema.ts';
import { OPERATORS } from '../ast/nodes.ts';
import { operatorApplies, sortable } from '../plan/coerce.ts';
import { columnSchema, type JsonSchema } from '../schema/json-schema.ts';
import type { Column, Resource } from '../schema/model.ts';
import { exampleValue } from './examples.ts';

type Parameter = Record<string, unknown>;

/** Query parameters with a meaning of their own; a column of the same name is filtered as `col[eq]=`. */
const RESERVED = new Set(['fields', 'include', 'sort', 'limit', 'offset', 'cursor', 'count', 'onConflict', 'or', 'and']);
/** What the URL grammar accepts as a column name (no dots, commas, brackets, quotes or spaces). */
const FILTERABLE = /^[^\s.,()[\]"]+$/;

/** The schema of one value of a column in a URL: its type, never null. */
function valueSchema(column: Column): JsonSchema {
  const { description: _d, readOnly: _r, ...schema } = columnSchema({ ...column, nullable: false, readOnly: false, comment: undefined }, 'read');
  return schema;
}

function operatorSchema(op: string, column: Column): JsonSchema {
  switch (op) {
    case 'in': case 'nin': return { type: 'string', description: `comma list; "a,b" quotes a comma (${op === 'in' ? 'any of' : 'none of'})` };
    case 'like': case 'ilike': return { type: 'string', description: `pattern, * is the wildcard${op === 'ilike' ? ' (case-insensitive)' : ''}` };
    case 'null': return { type: 'boolean', description: 'true: is null; false: is not null' };
    case 'search': return { type: 'string', description: 'full-text search where the database has it' };
    default: return valueSchema(column);
  }
}

/**
 * Columns the URL can filter on as `col[op]=…` without clashing with another parameter.
 * @example filterableColumns(orders).map((c) => c.name) → ['id', 'customer_id', 'status', 'total', 'created_at']
 */
function filterableColumns(resource: Resource): Column[] {
  return resource.columns.filter((c) => FILTERABLE.test(c.name) && !RESERVED.has(c.name));
}

/**
 * Columns named like a parameter (`limit`): filterable as `limit[eq]=…`, but the document cannot
 * list them as parameters of their own.
 * @example shadowedColumns(events).map((c) => c.name) → ['limit']
 */
export function shadowedColumns(resource: Resource): Column[] {
  return resource.columns.filter((c) => RESERVED.has(c.name));
}

/** Component keys of a resource's filters (`Orders.total`), one per filterable column. */
function filterKeys(resource: Resource, base: string): Array<[string, Column]> {
  const used = new Set<string>();
  return filterableColumns(resource).map((column) => {
    const safe = column.name.replace(/[^A-Za-z0-9_-]/g, '_');
    let key = `${base}.${safe}`;
    for (let n = 2; used.has(key); n++) key = `${base}.${safe}_${n}`;
    used.add(key);
    return [key, column];
  });
}

function filterParameter(column: Column): Parameter {
  const ops = OPERATORS.filter((op) => operatorApplies(op, column.type));
  const example = exampleValue(column);
  const sample = ops.includes('eq') ? { eq: typeof example === 'string' ? example : JSON.stringify(example) } : { null: false };
  const first = Object.keys(sample)[0]!;
  return {
    name: column.name,
    in: 'query',
    style: 'deepObject',
    explode: true,
    description: `Filter on \`${column.name}\` (${column.type.dbType}): \`${column.name}[op]=value\` with op one of ${ops.map((o) => `\`${o}\``).join(', ')}`
      + `${ops.includes('eq') ? `; \`${column.name}=value\` is short for \`${column.name}[eq]=value\`` : ''}. Prefix \`not.\` to negate (\`${column.name}[not.${first}]=…\`).`,
    schema: { type: 'object', properties: Object.fromEntries(ops.map((op) => [op, operatorSchema(op, column)])) },
    // The first example is empty so that Swagger UI does not send a filter nobody asked for.
    examples: { none: { summary: 'no filter', value: {} }, [first]: { summary: `${column.name}[${first}]=…`, value: sample } },
  };
}

/**
 * `components.parameters` entries: one `deepObject` filter per column, shared by the list and the
 * bulk writes of the resource.
 * @example filterComponents(orders, 'Orders')['Orders.total'].style === 'deepObject'
 */
export function filterComponents(resource: Resource, base: string): Record<string, Parameter> {
  return Object.fromEntries(filterKeys(resource, base).map(([key, column]) => [key, filterParameter(column)]));
}

function filterRefs(resource: Resource, base: string): Parameter[] {
  return filterKeys(resource, base).map(([key]) => ({ $ref: `#/components/parameters/${key}` }));
}

function relationList(resource: Resource): string {
  const lines = [...resource.relations.keys()].sort().map((key) => {
    const r = resource.relations.get(key)!;
    const what = r.kind === 'one' ? 'to-one' : r.kind === 'many' ? 'to-many' : `many-to-many through ${r.junction?.resource ?? '?'}`;
    const alias = key === r.name ? '' : ` (alias of \`${r.name}\`)`;
    const shape = r.kind === 'one' ? '' : `; shape with \`${key}.limit\`, \`${key}.sort\``;
    return `- \`${key}\`${alias}: ${what} → ${r.target}${shape}`;
  });
  return lines.length ? `\n\nRelations:\n${lines.join('\n')}` : '\n\nThis resource has no relations.';
}

/**
 * `fields` and `include`, shared by list and single-row reads.
 * @example shapeParameters(orders, config).map((p) => p.name) → ['fields', 'include']
 */
export function shapeParameters(resource: Resource, config: Config): Parameter[] {
  const columns = resource.columns.map((c) => `\`${c.name}\``).join(', ');
  return [
    {
      name: 'fields', in: 'query', schema: { type: 'string' },
      description: `Comma list of columns to return (default: all): ${columns}. \`rel.col\` or \`rel.*\` picks columns of an embedded relation.`,
    },
    {
      name: 'include', in: 'query', schema: { type: 'string' },
      description: `Comma list of relations to embed; nest with dots (\`a.b\`), at most ${config.limits.maxDepth} deep (limits.maxDepth).${relationList(resource)}`,
    },
  ];
}

/** `rel.limit` and `rel.sort` for each to-many relation. */
function embedParameters(resource: Resource): Parameter[] {
  const out: Parameter[] = [];
  for (const [key, r] of [...resource.relations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (r.kind === 'one' || key !== r.name) continue;
    out.push(
      { name: `${key}.limit`, in: 'query', schema: { type: 'integer', minimum: 0 }, description: `At most this many embedded \`${key}\` rows per row (with include=${key}).` },
      { name: `${key}.sort`, in: 'query', schema: { type: 'string' }, description: `Order of the embedded \`${key}\` rows, e.g. \`-col\` (with include=${key}).` },
    );
  }
  return out;
}

/**
 * Parameters of a list read: shape, sort, paging, count, groups and one filter per column.
 * @example listParameters(orders, 'Orders', config) → [{ name: 'fields', … }, …, { $ref: '#/components/parameters/Orders.total' }]
 */
export function listParameters(resource: Resource, base: string, config: Config): Parameter[] {
  const sortColumns = resource.columns.filter((c) => sortable(c.type)).map((c) => `\`${c.name}\``).join(', ');
  return [
    ...shapeParameters(resource, config),
    ...embedParameters(resource),
    {
      name: 'sort', in: 'query', schema: { type: 'string' },
      description: `Comma list of columns, \`-\` for descending: ${sortColumns}.${resource.primaryKey.length ? ` The primary key (${resource.primaryKey.join(', ')}) is appended so the order is total.` : ''}`,
    },
    { $ref: '#/components/parameters/limit' },
    { $ref: '#/components/parameters/offset' },
    ...(resource.primaryKey.length ? [{ $ref: '#/components/parameters/cursor' }] : []),
    { $ref: '#/components/parameters/count' },
    { $ref: '#/components/parameters/or' },
    { $ref: '#/components/parameters/and' },
    ...filterRefs(resource, base),
  ];
}

/**
 * Parameters of a bulk PATCH or DELETE: the filters (at least one is required) and `fields`.
 * @example bulkParameters(orders, 'Orders')[0].name === 'fields'
 */
export function bulkParameters(resource: Resource, base: string): Parameter[] {
  return [
    { name: 'fields', in: 'query', schema: { type: 'string' }, description: 'Comma list of columns to return of each changed row (default: all).' },
    { $ref: '#/components/parameters/or' },
    { $ref: '#/components/parameters/and' },
    ...filterRefs(resource, base),
  ];
}

/**
 * `components.parameters`: the ones every list shares.
 * @example sharedParameters(config).limit.schema → { type: 'integer', minimum: 0, maximum: 1000, default: 25 }
 */
export function sharedParameters(config: Config): Record<string, Parameter> {
  const { defaultLimit, maxLimit } = config.limits;
  const group = (name: 'or' | 'and'): Parameter => ({
    name, in: 'query', schema: { type: 'string' },
    description: `Conditions joined with ${name.toUpperCase()}: \`${name}=(status.eq.paid,and(total.gt.100,total.lt.200))\`. Each is \`col.op.value\` (\`not.\` before op negates); groups nest; \`not.${name}=(…)\` negates the group, \`rel.${name}=(…)\` scopes it to an embedded relation.`,
  });
  return {
    limit: {
      name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: maxLimit, default: defaultLimit },
      description: `Rows per page (default ${defaultLimit}, at most ${maxLimit}: limits.maxLimit; more is a 400).`,
    },
    offset: { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Rows to skip (offset pagination). Prefer `cursor` for deep pages.' },
    cursor: {
      name: 'cursor', in: 'query', schema: { type: 'string' },
      description: 'Keyset pagination: the `nextCursor` of the previous page (bound to its sort). Its cost does not grow with depth.',
    },
    count: {
      name: 'count', in: 'query', schema: { type: 'string', enum: ['exact', 'estimated'] },
      description: 'Adds `pagination.total`; `estimated` uses planner statistics on large tables.',
    },
    or: group('or'),
    and: group('and'),
  };
}

/**
 * The `{id}` path parameter: the primary key, composite keys as `a,b` in key order (OpenAPI
 * `simple` style arrays are exactly that: parts comma-joined, each URL-encoded).
 * @example keyParameter(orderItems).description → 'The primary key: `order_id,product_id` in key order, …'
 */
export function keyParameter(resource: Resource): Parameter {
  const columns = resource.primaryKey.map((n) => resource.columnsByName.get(n)!);
  if (columns.length === 1) {
    return { name: 'id', in: 'path', required: true, description: `The primary key (\`${columns[0]!.name}\`).`, schema: valueSchema(columns[0]!), example: exampleValue(columns[0]!) };
  }
  return {
    name: 'id', in: 'path', required: true, style: 'simple', explode: false,
    description: `The primary key: \`${resource.primaryKey.join(',')}\` in key order, each part URL-encoded.`,
    // No `items: false`: Swagger UI cannot render a parameter with it; maxItems says the same.
    schema: { type: 'array', prefixItems: columns.map(valueSchema), minItems: columns.length, maxItems: columns.length },
    example: columns.map(exampleValue),
  };
}

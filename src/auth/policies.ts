/**
 * Role policies (SPEC §6) compiled against the schema snapshot: for each role and resource, the
 * rule of each action — row filter, column allow-list, presets and check — with filters already
 * resolved into plan filters whose `$auth.*` values are claim references, filled per request.
 * Deny by default: a resource a role names no rule for does not exist for that role.
 *
 * Defaults follow PostgreSQL's row-level security: update and delete act on the rows the role may
 * read unless they say otherwise, and a write may not leave a row the role could not read (or
 * update) behind — `check` defaults to that filter.
 */
import type { Config } from '../config/schema.ts';
import type { FilterNode } from '../ast/nodes.ts';
import type { Resource, Snapshot } from '../schema/model.ts';
import { ConfigError } from '../config/load.ts';
import { SluiceError } from '../errors/registry.ts';
import { parseQuery } from '../request/query-params.ts';
import { FilterResolver } from '../plan/filter-resolver.ts';
import { coerceValue } from '../plan/coerce.ts';
import { ClaimRef, type PlanFilter } from '../plan/nodes.ts';

export const ACTIONS = ['read', 'create', 'update', 'delete'] as const;
export type Action = (typeof ACTIONS)[number];

export interface ActionRule {
  /** The rows the action applies to (null: every row). */
  readonly filter: PlanFilter | null;
  /** Columns the action may read or write (null: every column). */
  readonly columns: ReadonlySet<string> | null;
  /** Values a write always sets (a {@link ClaimRef} for `$auth.*`). */
  readonly preset: ReadonlyMap<string, unknown>;
  /** What a written row must satisfy, or the write is refused and rolled back. */
  readonly check: PlanFilter | null;
}

export type ResourceRules = Readonly<Partial<Record<Action, ActionRule>>>;

/** Every role's rules per resource name; a role missing from the map has none. */
export type Policies = ReadonlyMap<string, ReadonlyMap<string, ResourceRules> | 'all'>;

type RolesConfig = NonNullable<Config['roles']>;
type RuleConfig = '*' | true | { filter?: string | Record<string, unknown>; columns?: '*' | string[]; preset?: Record<string, unknown>; check?: string | Record<string, unknown> };

const FULL: ActionRule = Object.freeze({ filter: null, columns: null, preset: new Map(), check: null });
/** Every action on every row and column. */
export const FULL_RULES: ResourceRules = Object.freeze({ read: FULL, create: FULL, update: FULL, delete: FULL });
const CLAIM = /^\$auth\./;
const OPS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'like', 'ilike', 'null', 'search']);

const fail = (path: string, message: string) => new ConfigError(`invalid configuration: ${path}: ${message}`);

/** A YAML value as the URL grammar's text (`true`, `42`, `DE`). */
function text(value: unknown, path: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw fail(path, `expected a string, number or boolean, not ${JSON.stringify(value)}`);
}

/** The object form of a filter: `{ customer_id: $auth.sub, total: { gte: 100 }, or: [{…}, {…}] }`. */
function objectFilter(spec: Record<string, unknown>, path: string): FilterNode[] {
  const out: FilterNode[] = [];
  for (const [key, value] of Object.entries(spec)) {
    const at = `${path}.${key}`;
    if (key === 'or' || key === 'and' || key === 'not') {
      const items = key === 'not' ? [value] : value;
      if (!Array.isArray(items) || items.some((i) => typeof i !== 'object' || i === null)) throw fail(at, 'expected a list of filter objects');
      const nodes = items.map((i, n) => objectFilter(i as Record<string, unknown>, `${at}[${n}]`));
      const kind = key === 'or' ? 'or' : 'and';
      out.push({ kind, negate: key === 'not', path: [], param: at, items: kind === 'or' ? nodes.map((n) => ({ kind: 'and', negate: false, path: [], param: at, items: n })) : nodes.flat() });
      continue;
    }
    const parts = key.split('.');
    const cond = (op: string, v: unknown): FilterNode => {
      if (!OPS.has(op)) throw fail(`${at}.${op}`, `unknown operator; expected one of ${[...OPS].join(', ')}`);
      const value = op === 'in' || op === 'nin'
        ? (Array.isArray(v) ? v : [v]).map((x) => text(x, `${at}.${op}`))
        : op === 'null' ? String(v === true || v === 'true') : text(v, `${at}.${op}`);
      return { kind: 'cond', path: parts.slice(0, -1), column: parts.at(-1)!, op: op as 'eq', negate: false, value, param: at };
    };
    if (value === null) out.push(cond('null', true));
    else if (Array.isArray(value)) out.push(cond('in', value));
    else if (typeof value === 'object') for (const [op, v] of Object.entries(value)) out.push(cond(op, v));
    else out.push(cond('eq', value));
  }
  return out;
}

function filterNodes(spec: string | Record<string, unknown>, path: string): FilterNode[] {
  if (typeof spec !== 'string') return objectFilter(spec, path);
  const ast = parseQuery(spec);
  const other = ast.fields ?? ast.include.length ?? ast.sort ?? ast.limit ?? ast.offset ?? ast.cursor ?? ast.count ?? ast.onConflict ?? ast.embeds.size;
  if (other) throw fail(path, 'a filter takes filter parameters only (no fields, include, sort, limit…)');
  return [...ast.filters];
}

/** A filter of the config resolved on `resource` (with full rights: policies may use any column). */
function resolveFilter(snapshot: Snapshot, resource: Resource, spec: string | Record<string, unknown> | undefined, path: string): PlanFilter | null {
  if (spec === undefined) return null;
  const resolver = new FilterResolver({ snapshot, maxDepth: 16, claims: true });
  try {
    const items = filterNodes(spec, path).map((node) => resolver.resolve(resource, node));
    return items.length === 0 ? null : items.length === 1 ? items[0]! : { kind: 'and', negate: false, items };
  } catch (err) {
    if (err instanceof SluiceError) throw fail(path, err.detail);
    throw err;
  }
}

function columnSet(resource: Resource, columns: '*' | string[] | undefined, path: string): ReadonlySet<string> | null {
  if (columns === undefined || columns === '*') return null;
  for (const name of columns) if (!resource.columnsByName.has(name)) throw fail(path, `${resource.name} has no column '${name}'`);
  return new Set(columns);
}

function presets(resource: Resource, preset: Record<string, unknown> | undefined, path: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(preset ?? {})) {
    const column = resource.columnsByName.get(name);
    if (!column) throw fail(`${path}.${name}`, `${resource.name} has no column '${name}'`);
    if (typeof value === 'string' && CLAIM.test(value)) out.set(name, new ClaimRef(value.slice('$auth.'.length).split('.')));
    else if (value === null) out.set(name, null);
    else {
      try {
        out.set(name, coerceValue(column.type, column, text(value, `${path}.${name}`), `${path}.${name}`));
      } catch (err) {
        if (err instanceof SluiceError) throw fail(`${path}.${name}`, err.detail);
        throw err;
      }
    }
  }
  return out;
}

function compileRules(snapshot: Snapshot, resource: Resource, spec: '*' | Partial<Record<Action, RuleConfig>>, path: string): ResourceRules {
  if (spec === '*') return FULL_RULES;
  const rule = (action: Action, fallback: PlanFilter | null): ActionRule | undefined => {
    const cfg = spec[action];
    if (cfg === undefined) return undefined;
    if (cfg === '*' || cfg === true) return action === 'read' || !fallback ? FULL : { ...FULL, filter: fallback, check: fallback };
    const at = `${path}.${action}`;
    const filter = action === 'create' ? null : resolveFilter(snapshot, resource, cfg.filter, `${at}.filter`) ?? (action === 'read' ? null : fallback);
    if (action === 'create' && cfg.filter !== undefined) throw fail(`${at}.filter`, 'create has no rows to filter; use check (and preset)');
    const check = action === 'read' || action === 'delete' ? null : resolveFilter(snapshot, resource, cfg.check, `${at}.check`) ?? filter ?? fallback;
    if (action === 'read' && cfg.check !== undefined) throw fail(`${at}.check`, 'read takes filter, not check');
    if ((action === 'read' || action === 'delete') && cfg.preset !== undefined) throw fail(`${at}.preset`, `${action} writes no values`);
    return { filter, columns: columnSet(resource, cfg.columns, `${at}.columns`), preset: presets(resource, cfg.preset, `${at}.preset`), check };
  };
  // Writes default to the read filter, so read is compiled first.
  const rules: Partial<Record<Action, ActionRule>> = {};
  for (const action of ACTIONS) {
    const r = rule(action, rules.read?.filter ?? null);
    if (r) rules[action] = r;
  }
  return rules;
}

/**
 * @example compilePolicies({ customer: { orders: { read: { filter: { customer_id: '$auth.sub' } } } } }, snapshot, 'admin')
 */
export function compilePolicies(roles: RolesConfig | undefined, snapshot: Snapshot, adminRole: string): Policies {
  const out = new Map<string, ReadonlyMap<string, ResourceRules> | 'all'>();
  for (const [role, spec] of Object.entries(roles ?? {})) {
    if (spec === '*') {
      out.set(role, 'all');
      continue;
    }
    const byResource = new Map<string, ResourceRules>();
    for (const name of Object.keys(spec)) {
      if (name !== '*' && !snapshot.resources.has(name)) throw fail(`roles.${role}.${name}`, `no resource is named '${name}'`);
    }
    for (const resource of snapshot.resources.values()) {
      // Own keys only: `in` would find a table named `constructor` or `toString` on Object.prototype.
      const key = Object.hasOwn(spec, resource.name) ? resource.name : Object.hasOwn(spec, '*') ? '*' : null;
      if (key === null) continue;
      byResource.set(resource.name, compileRules(snapshot, resource, spec[key] as '*' | Partial<Record<Action, RuleConfig>>, `roles.${role}.${key}`));
    }
    out.set(role, byResource);
  }
  out.set(adminRole, 'all');
  return out;
}

/**
 * Resolves a query AST against the schema into a {@link ReadPlan}: the embed tree from `include`
 * and `fields`, each filter attached where it belongs (relation filters through to-one relations
 * filter the parent; through a to-many relation they filter that relation's embedded rows), sorts
 * made total with the primary key, limits checked, the cursor decoded.
 */
import { badParam, SluiceError } from '../errors/registry.ts';
import type { FilterNode, QueryAst, SortItem } from '../ast/nodes.ts';
import type { Column, Relation, Resource, Snapshot } from '../schema/model.ts';
import { sortable } from './coerce.ts';
import { decodeCursor, sortTag } from './cursor.ts';
import { FilterResolver, unknownColumn } from './filter-resolver.ts';
import type { EmbedPlan, PlanFilter, PlanSort, ReadMode, ReadPlan, SelectPlan } from './nodes.ts';

export interface ReadLimits {
  readonly defaultLimit: number;
  readonly maxLimit: number;
  readonly maxDepth: number;
  readonly maxStreamRows: number;
}

export interface ReadInput {
  readonly snapshot: Snapshot;
  readonly resource: Resource;
  readonly ast: QueryAst;
  readonly limits: ReadLimits;
  readonly mode: ReadMode;
  /** Primary key values for `mode: 'one'`, already typed. */
  readonly key?: readonly unknown[];
  /**
   * The caller's row filter of a resource (a role policy): applied wherever the read touches rows
   * of it — the root, every embed, every relation filter, the junction of many-to-many embeds.
   */
  readonly rowFilter?: ((resource: Resource) => PlanFilter | null) | undefined;
}

/** A node of the embed tree while the plan is being built. */
interface Node {
  readonly resource: Resource;
  readonly relation: Relation | null;
  readonly key: string;
  readonly children: Map<string, Node>;
  fields: Column[] | 'all' | null;
  readonly filters: PlanFilter[];
}

export class ReadPlanner {
  private readonly root: Node;
  private readonly input: ReadInput;
  private readonly r: FilterResolver;

  constructor(input: ReadInput) {
    this.input = input;
    this.r = new FilterResolver({ snapshot: input.snapshot, maxDepth: input.limits.maxDepth, rowFilter: input.rowFilter });
    this.root = { resource: input.resource, relation: null, key: '', children: new Map(), fields: null, filters: [] };
  }

  /** The embed node at `path`, created on the way when `create` (include and fields do). */
  private node(path: readonly string[], param: string, create: boolean): Node {
    if (path.length > this.input.limits.maxDepth) {
      throw new SluiceError('SLUICE_DEPTH_EXCEEDED', `${param}: '${path.join('.')}' nests ${path.length} relations deep; limits.maxDepth is ${this.input.limits.maxDepth}`, [{ field: param, message: 'too deep' }]);
    }
    let node = this.root;
    for (const name of path) {
      let child = node.children.get(name);
      if (!child) {
        const { relation, target } = this.r.relation(node.resource, name, param);
        if (!create) throw badParam(param, `filters and options on '${path.join('.')}' need include=${path.join('.')}`);
        child = { resource: target, relation, key: name, children: new Map(), fields: null, filters: [] };
        node.children.set(name, child);
      }
      node = child;
    }
    return node;
  }

  private addFields(fields: readonly (readonly string[])[]): void {
    for (const path of fields) {
      const last = path.at(-1)!;
      const node = this.node(path.slice(0, -1), 'fields', true);
      if (last === '*') {
        node.fields = 'all';
        continue;
      }
      const column = node.resource.columnsByName.get(last);
      if (column) {
        if (node.fields !== 'all') node.fields = [...(node.fields ?? []).filter((c) => c !== column), column];
      } else if (node.resource.relations.has(last)) {
        this.node(path, 'fields', true);
      } else throw unknownColumn(node.resource, last, 'fields');
    }
  }

  /**
   * Where a filter on `path` belongs: the embed at its last to-many hop (which must be included),
   * or the root; the rest of the path is a chain of to-one relations.
   */
  private anchor(path: readonly string[], param: string): { node: Node; chain: Relation[] } {
    let resource = this.input.resource;
    let lastMany = -1;
    for (let i = 0; i < path.length; i++) {
      const { relation, target } = this.r.relation(resource, path[i]!, param);
      if (relation.kind !== 'one') lastMany = i;
      resource = target;
    }
    const node = this.node(path.slice(0, lastMany + 1), param, false);
    return { node, chain: this.r.chain(node.resource, path.slice(lastMany + 1), param).relations };
  }

  private addFilter(filter: FilterNode): void {
    const { node, chain } = this.anchor(filter.path, filter.param);
    // Relative to its anchor, only the trailing to-one part of the path remains.
    const local = { ...filter, path: filter.path.slice(filter.path.length - chain.length) };
    node.filters.push(this.r.resolve(node.resource, local));
  }

  private sort(resource: Resource, items: readonly SortItem[] | undefined | null, param: string): PlanSort[] {
    const sort: PlanSort[] = (items ?? []).map((s) => {
      const column = this.r.column(resource, s.column, param);
      if (!sortable(column.type)) throw badParam(param, `cannot sort by ${column.name} (${column.type.dbType})`);
      return { column, descending: s.descending };
    });
    for (const name of resource.primaryKey) {
      if (!sort.some((s) => s.column.name === name)) sort.push({ column: resource.columnsByName.get(name)!, descending: false });
    }
    return sort;
  }

  private limit(value: number | undefined | null, fallback: number | null, max: number, param: string, stream = false): number | null {
    const limit = value ?? fallback;
    if (limit !== null && limit > max) {
      const hint = stream ? 'limits.maxStreamRows; use an export for larger reads' : 'limits.maxLimit; page with cursor instead';
      throw new SluiceError('SLUICE_LIMIT_TOO_LARGE', `${param}: ${limit} is above ${max} (${hint})`, [{ field: param, message: `at most ${max}` }]);
    }
    return limit;
  }

  private select(node: Node, path: string): SelectPlan {
    const policy = this.r.rowFilter(node.resource);
    if (policy) node.filters.push(policy);
    const columns = node.fields === null || node.fields === 'all' ? [...node.resource.columns] : node.fields;
    const embeds: EmbedPlan[] = [...node.children.values()].map((child) => ({
      key: child.key, relation: child.relation!, plan: this.select(child, path ? `${path}.${child.key}` : child.key),
    }));
    const filter: PlanFilter | null = node.filters.length === 0 ? null : node.filters.length === 1 ? node.filters[0]! : { kind: 'and', negate: false, items: node.filters };
    if (node === this.root) return { resource: node.resource, columns, embeds, filter, sort: [], limit: null, offset: null };
    const options = this.input.ast.embeds.get(path);
    const many = node.relation!.kind !== 'one';
    if (options && !many) throw badParam(`${path}.${Object.keys(options)[0]}`, `'${path}' is a to-one relation; limit, offset and sort apply to to-many relations`);
    const junction = node.relation!.junction && this.input.snapshot.resources.get(node.relation!.junction.resource);
    return {
      resource: node.resource, columns, embeds, filter,
      ...(junction ? { junctionFilter: this.r.rowFilter(junction) } : {}),
      sort: many ? this.sort(node.resource, options?.sort, `${path}.sort`) : [],
      // An embedded array holds at most limits.maxLimit rows unless rel.limit asks for fewer:
      // one request must not build a gigabyte of JSON (page further rows with rel.offset).
      limit: many ? this.limit(options?.limit, this.input.limits.maxLimit, this.input.limits.maxLimit, `${path}.limit`) : null,
      offset: options?.offset ?? null,
    };
  }

  plan(): ReadPlan {
    const { ast, mode, resource, limits, key } = this.input;
    for (const path of ast.include) this.node(path, 'include', true);
    if (ast.fields) this.addFields(ast.fields);
    for (const filter of ast.filters) this.addFilter(filter);
    for (const path of ast.embeds.keys()) this.node(path.split('.'), `${path}.${Object.keys(ast.embeds.get(path)!)[0]}`, false);

    if (mode === 'one') {
      for (const [param, value] of [['sort', ast.sort], ['limit', ast.limit], ['offset', ast.offset], ['cursor', ast.cursor], ['count', ast.count]] as const) {
        if (value !== null) throw badParam(param, 'does not apply to a single row');
      }
      // The key comes first, so its values are the statement's first parameters ($1…): one
      // compiled statement then serves every key (see plan/statement-cache.ts).
      this.root.filters.unshift(...resource.primaryKey.map((name, i): PlanFilter => (
        { kind: 'cond', column: resource.columnsByName.get(name)!, op: 'eq', negate: false, value: key![i] })));
    }
    const base = this.select(this.root, '');
    if (mode === 'one') return { mode, root: base, after: null, count: null, sortTag: '' };

    if (ast.count && mode === 'stream') throw badParam('count', 'does not apply to streams');
    const sort = this.sort(resource, ast.sort, 'sort');
    const root: SelectPlan = {
      ...base, sort,
      limit: mode === 'stream'
        ? this.limit(ast.limit, limits.maxStreamRows, limits.maxStreamRows, 'limit', true)
        : this.limit(ast.limit, Math.min(limits.defaultLimit, limits.maxLimit), limits.maxLimit, 'limit'),
      offset: ast.offset,
    };
    const tag = sortTag(resource.name, sort);
    let after: unknown[] | null = null;
    if (ast.cursor !== null) {
      if (ast.offset !== null) throw badParam('cursor', 'cannot be combined with offset', 'SLUICE_INVALID_CURSOR');
      if (resource.primaryKey.length === 0) throw badParam('cursor', `${resource.name} has no primary key, so it pages with offset only`, 'SLUICE_INVALID_CURSOR');
      after = decodeCursor(ast.cursor, tag, sort);
    }
    return { mode, root, after, count: ast.count, sortTag: tag };
  }
}

/** @example const plan = planRead({ snapshot, resource, ast: parseQuery('status=paid'), limits, mode: 'list' }) */
export function planRead(input: ReadInput): ReadPlan {
  return new ReadPlanner(input).plan();
}

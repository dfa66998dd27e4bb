/**
 * Resolves filter AST nodes against a schema snapshot into plan filters: relation paths into
 * nested EXISTS over to-one relations, columns checked, values coerced to the column type. The
 * read planner uses it for the request's filters; role policies use it for their row filters
 * (where `$auth.*` values become {@link ClaimRef}s).
 *
 * With a row policy, every EXISTS over a related resource also carries that resource's row
 * filter: a filter through a relation can only match rows the caller may see.
 */
import { badParam, SluiceError } from '../errors/registry.ts';
import type { Condition, FilterNode, Operator } from '../ast/nodes.ts';
import type { Column, Relation, Resource, Snapshot } from '../schema/model.ts';
import { coerceValue, operatorApplies } from './coerce.ts';
import { ClaimRef, type PlanFilter } from './nodes.ts';

export interface ResolverOptions {
  readonly snapshot: Snapshot;
  readonly maxDepth: number;
  /** The caller's row filter of a resource (null: every row). */
  readonly rowFilter?: ((resource: Resource) => PlanFilter | null) | undefined;
  /** Policy filters: `$auth.<claim>` values become claim references. */
  readonly claims?: boolean;
}

/** Operators a `$auth.*` value may be compared with. */
const CLAIM_OPERATORS: ReadonlySet<Operator> = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte']);
const CLAIM = /^\$auth\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$/;

export const unknownColumn = (resource: Resource, name: string, param: string) =>
  new SluiceError('SLUICE_UNKNOWN_COLUMN', `${param}: ${resource.name} has no column '${name}'`, [{ field: param, message: `unknown column '${name}'` }]);
export const unknownRelation = (resource: Resource, name: string, param: string) =>
  new SluiceError('SLUICE_UNKNOWN_RELATION', `${param}: ${resource.name} has no relation '${name}'`, [{ field: param, message: `unknown relation '${name}'` }]);

/** @example new FilterResolver({ snapshot, maxDepth: 3 }).resolve(resource, parseQuery('total[gt]=5').filters[0]) */
export class FilterResolver {
  private readonly options: ResolverOptions;

  constructor(options: ResolverOptions) {
    this.options = options;
  }

  get snapshot(): Snapshot {
    return this.options.snapshot;
  }

  relation(resource: Resource, name: string, param: string): { relation: Relation; target: Resource } {
    const relation = resource.relations.get(name);
    const target = relation && this.options.snapshot.resources.get(relation.target);
    if (!relation || !target) throw unknownRelation(resource, name, param);
    return { relation, target };
  }

  column(resource: Resource, name: string, param: string): Column {
    const column = resource.columnsByName.get(name);
    if (!column) throw unknownColumn(resource, name, param);
    return column;
  }

  /** The caller's row filter of `resource`, if any. */
  rowFilter(resource: Resource): PlanFilter | null {
    return this.options.rowFilter?.(resource) ?? null;
  }

  /** Resolves a path of to-one relations from `resource`. */
  chain(resource: Resource, path: readonly string[], param: string): { relations: Relation[]; target: Resource } {
    if (path.length > this.options.maxDepth) {
      throw new SluiceError('SLUICE_DEPTH_EXCEEDED', `${param}: the relation path is ${path.length} deep; limits.maxDepth is ${this.options.maxDepth}`, [{ field: param, message: 'too deep' }]);
    }
    const relations: Relation[] = [];
    for (const name of path) {
      const { relation, target } = this.relation(resource, name, param);
      if (relation.kind !== 'one') {
        throw badParam(param, `'${name}' is a to-many relation: inside or/and groups use a group scoped to it, such as ${name}.or=(…)`);
      }
      relations.push(relation);
      resource = target;
    }
    return { relations, target: resource };
  }

  /** `filter` applied through a chain of to-one relations: nested EXISTS, innermost last. */
  wrap(chain: readonly Relation[], filter: PlanFilter): PlanFilter {
    let out = filter;
    for (let i = chain.length - 1; i >= 0; i--) {
      const target = this.options.snapshot.resources.get(chain[i]!.target)!;
      const policy = this.rowFilter(target);
      out = { kind: 'exists', relation: chain[i]!, target, filter: policy ? { kind: 'and', negate: false, items: [out, policy] } : out };
    }
    return out;
  }

  private value(cond: Condition, column: Column): unknown {
    const claim = this.options.claims && typeof cond.value === 'string' ? CLAIM.exec(cond.value) : null;
    if (claim) {
      if (!CLAIM_OPERATORS.has(cond.op)) throw badParam(cond.param, `$auth values compare with eq, ne, gt, gte, lt or lte, not '${cond.op}'`);
      return new ClaimRef(claim[1]!.split('.'));
    }
    if (cond.op === 'null') return cond.value === 'true';
    if (cond.op === 'in' || cond.op === 'nin') return (cond.value as string[]).map((v) => coerceValue(column.type, column, v, cond.param));
    if (cond.op === 'like' || cond.op === 'ilike' || cond.op === 'search') return String(cond.value);
    return coerceValue(column.type, column, String(cond.value), cond.param);
  }

  private condition(resource: Resource, cond: Condition): PlanFilter {
    const { relations, target } = this.chain(resource, cond.path, cond.param);
    const column = this.column(target, cond.column, cond.param);
    if (!operatorApplies(cond.op, column.type)) {
      throw new SluiceError('SLUICE_OPERATOR_NOT_APPLICABLE', `${cond.param}: operator '${cond.op}' does not apply to ${column.name} (${column.type.dbType})`, [{ field: cond.param, message: `'${cond.op}' does not apply to ${column.type.dbType}` }]);
    }
    const value = this.value(cond, column);
    if (typeof value === 'string' && value.includes('\0')) throw badParam(cond.param, 'NUL characters are not allowed', 'SLUICE_INVALID_VALUE');
    return this.wrap(relations, { kind: 'cond', column, op: cond.op, negate: cond.negate, value });
  }

  /** A filter node resolved relative to `resource` (groups resolve their items the same way). */
  resolve(resource: Resource, filter: FilterNode): PlanFilter {
    if (filter.kind === 'cond') return this.condition(resource, filter);
    const { relations, target } = this.chain(resource, filter.path, filter.param);
    const items = filter.items.map((item) => this.resolve(target, item));
    return this.wrap(relations, { kind: filter.kind, negate: filter.negate, items });
  }
}

/**
 * What one role sees of the database: a snapshot holding only the resources it may use, each with
 * only the columns it may read and only the relations whose both ends (and junction) it may read
 * through visible columns. The planner works on this view, so a hidden resource, column or
 * relation is exactly as unknown as one that does not exist — it cannot be selected, filtered,
 * sorted on, embedded or probed. Row filters ride along as `rowFilter`, applied by the planner
 * wherever a read touches rows.
 *
 * Views are built once per (snapshot, role) and kept with the snapshot.
 */
import type { Relation, Resource, Snapshot } from '../schema/model.ts';
import type { PlanFilter } from '../plan/nodes.ts';
import { FULL_RULES, type Policies, type ResourceRules } from './policies.ts';

export class RoleView {
  readonly role: string;
  /** The database as this role sees it. */
  readonly snapshot: Snapshot;
  readonly full: Snapshot;
  /** Full access: no rule restricts anything (the admin role, `role: '*'`). */
  readonly unrestricted: boolean;
  private readonly rules: ReadonlyMap<string, ResourceRules> | null;
  /** The role's row filter for reading a resource (null: every row). */
  readonly rowFilter: (resource: Resource) => PlanFilter | null;

  constructor(role: string, full: Snapshot, policies: Policies) {
    this.role = role;
    this.full = full;
    const rules = policies.get(role);
    this.unrestricted = rules === 'all';
    this.rules = rules === 'all' ? null : rules ?? new Map();
    this.snapshot = this.rules === null ? full : restrict(full, this.rules);
    this.rowFilter = this.rules === null ? () => null : (resource) => this.rules!.get(resource.name)?.read?.filter ?? null;
  }

  /** The rules of a resource this role may use; undefined when it may not use it at all. */
  rulesOf(name: string): ResourceRules | undefined {
    if (this.rules === null) return this.full.resources.has(name) ? FULL_RULES : undefined;
    return this.rules.get(name);
  }

  /** True when the role may do `action` on the resource. */
  can(name: string, action: keyof ResourceRules): boolean {
    if (this.rules === null) return this.full.resources.has(name);
    return this.rules.get(name)?.[action] !== undefined;
  }
}

function restrict(full: Snapshot, rules: ReadonlyMap<string, ResourceRules>): Snapshot {
  const visible = new Map<string, Resource>();
  for (const [name, r] of rules) {
    const resource = full.resources.get(name)!;
    const allowed = r.read ? r.read.columns : new Set<string>();
    const columns = allowed === null ? resource.columns : resource.columns.filter((c) => allowed.has(c.name));
    const names = new Set(columns.map((c) => c.name));
    const shown = (keys: readonly string[]) => keys.every((k) => names.has(k));
    visible.set(name, {
      ...resource,
      columns,
      columnsByName: new Map(columns.map((c) => [c.name, c])),
      // A key the role cannot see cannot address rows (no single-row paths, no cursors).
      primaryKey: shown(resource.primaryKey) ? resource.primaryKey : [],
      uniqueKeys: resource.uniqueKeys.filter(shown),
      insertable: resource.insertable && r.create !== undefined,
      updatable: resource.updatable && r.update !== undefined,
      deletable: resource.deletable && r.delete !== undefined,
      relations: resource.relations, // narrowed below, once every resource is known
    });
  }
  const readable = (name: string, keys: readonly string[]) => {
    const target = visible.get(name);
    return target !== undefined && rules.get(name)?.read !== undefined && keys.every((k) => target.columnsByName.has(k));
  };
  for (const [name, resource] of visible) {
    const relations = new Map<string, Relation>();
    for (const [key, rel] of resource.relations) {
      const ok = rules.get(name)?.read !== undefined
        && rel.columns.every((c) => resource.columnsByName.has(c))
        && readable(rel.target, rel.targetColumns)
        && (!rel.junction || readable(rel.junction.resource, [...rel.junction.sourceColumns, ...rel.junction.targetColumns]));
      if (ok) relations.set(key, rel);
    }
    visible.set(name, { ...resource, relations });
  }
  return { ...full, resources: visible };
}

/** The view of each role, built on first use and dropped with its snapshot. */
export class RoleViews {
  private readonly cache = new WeakMap<Snapshot, Map<string, RoleView>>();
  private readonly policies: (snapshot: Snapshot) => Policies;

  constructor(policies: (snapshot: Snapshot) => Policies) {
    this.policies = policies;
  }

  /** @example views.of(engine.snapshot(), principal.role).snapshot.resources */
  of(snapshot: Snapshot, role: string): RoleView {
    let byRole = this.cache.get(snapshot);
    if (!byRole) this.cache.set(snapshot, (byRole = new Map()));
    let view = byRole.get(role);
    if (!view) byRole.set(role, (view = new RoleView(role, snapshot, this.policies(snapshot))));
    return view;
  }
}

/**
 * Cache tags: the tables a read depends on and the tables a write may change, as `schema.table`.
 * A read's tags come from its plan — the root, every embed at any depth, many-to-many junctions
 * and the tables of relation filters (policy row filters included, as the planner put them in).
 * A write's tags are its table and, for updates and deletes, every table whose foreign keys lead
 * to it (ON DELETE/UPDATE actions may change those rows too), transitively.
 */
import type { PlanFilter, ReadPlan, SelectPlan } from '../plan/nodes.ts';
import type { Resource, Snapshot } from '../schema/model.ts';

export interface ReadTags {
  readonly tags: readonly string[];
  /** True when the read touches a view (Sluice cannot see which tables a view reads). */
  readonly view: boolean;
}

export const tagOf = (r: { schema: string; table: string }): string => `${r.schema}.${r.table}`;

const byPlan = new WeakMap<ReadPlan, ReadTags>();

/** @example readTags(plan).tags → ['public.orders', 'public.customers'] */
export function readTags(plan: ReadPlan): ReadTags {
  let found = byPlan.get(plan);
  if (found) return found;
  const tags = new Set<string>();
  let view = false;
  const visitFilter = (f: PlanFilter | null | undefined): void => {
    if (!f) return;
    if (f.kind === 'exists') {
      tags.add(tagOf(f.target));
      view ||= f.target.kind === 'view';
      visitFilter(f.filter);
    } else if (f.kind !== 'cond') f.items.forEach(visitFilter);
  };
  const visit = (p: SelectPlan): void => {
    tags.add(tagOf(p.resource));
    view ||= p.resource.kind === 'view';
    visitFilter(p.filter);
    visitFilter(p.junctionFilter);
    for (const e of p.embeds) {
      if (e.relation.junction) tags.add(tagOf(e.relation.junction));
      visit(e.plan);
    }
  };
  visit(plan.root);
  found = { tags: [...tags].sort(), view };
  byPlan.set(plan, found);
  return found;
}

const byWrite = new WeakMap<Resource, { insert: readonly string[]; change: readonly string[] }>();

/** The tags a committed write to `resource` invalidates. */
export function writeTags(snapshot: Snapshot, resource: Resource, action: 'create' | 'update' | 'replace' | 'delete'): readonly string[] {
  let found = byWrite.get(resource);
  if (!found) {
    const change = new Set<string>([tagOf(resource)]);
    const pending: Resource[] = [resource];
    const seen = new Set<Resource>([resource]);
    while (pending.length) {
      const r = pending.pop()!;
      for (const rel of r.relations.values()) {
        // Rows of `target` (or of the junction) hold foreign keys that lead to r.
        if (rel.kind === 'manyToMany' && rel.junction) change.add(tagOf(rel.junction));
        if (rel.kind !== 'many') continue;
        const child = snapshot.resources.get(rel.target);
        if (!child || seen.has(child)) continue;
        seen.add(child);
        change.add(tagOf(child));
        pending.push(child);
      }
    }
    found = { insert: [tagOf(resource)], change: [...change].sort() };
    byWrite.set(resource, found);
  }
  return action === 'create' ? found.insert : found.change;
}

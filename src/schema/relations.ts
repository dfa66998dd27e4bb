/**
 * Relations derived from foreign keys, with the names users write in `include` and filters:
 * - to-one, from the table holding the key: the column without `_id` (`customer_id` → `customer`);
 * - to-many, from the referenced table: the referencing table's name (`order_items`), and the same
 *   without the referenced table's singular prefix (`order_items` seen from `orders` → `items`);
 *   a key that is also unique makes it to-one (`customer_profiles` → `customer_profile`, `profile`);
 * - many-to-many through a junction table whose key is made of two foreign keys (`orders` →
 *   `products` through `order_items`).
 * A name that would clash with a column or an earlier relation falls back to
 * `{target}_by_{columns}` (or `{target}_via_{junction}`), so every name is unambiguous.
 */
import type { RawForeignKey, Relation } from './model.ts';

export interface RelationInput {
  readonly name: string; // resource name
  readonly key: string; // schema.table
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly primaryKey: readonly string[];
  readonly uniqueKeys: readonly (readonly string[])[];
  readonly foreignKeys: readonly RawForeignKey[];
}

/** @example singular('order_items') === 'order_item'; singular('categories') === 'category' */
export function singular(word: string): string {
  if (/ies$/.test(word)) return word.slice(0, -3) + 'y';
  if (/(ss|x|z|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
const isUnique = (t: RelationInput, cols: readonly string[]) => t.uniqueKeys.some((k) => sameSet(k, cols));

/** Relations of every resource, by resource name and then by relation name (aliases included). */
export function deriveRelations(tables: readonly RelationInput[]): Map<string, Map<string, Relation>> {
  const byKey = new Map(tables.map((t) => [t.key, t]));
  const out = new Map<string, Map<string, Relation>>(tables.map((t) => [t.name, new Map()]));
  const add = (owner: RelationInput, names: readonly string[], fallback: string, rel: Omit<Relation, 'name'>) => {
    const map = out.get(owner.name)!;
    const free = (n: string) => n !== '' && !owner.columns.includes(n) && !map.has(n);
    const chosen = names.filter(free);
    const list = chosen.length > 0 ? chosen : free(fallback) ? [fallback] : [];
    const primary = list[0];
    if (primary === undefined) return;
    for (const n of list) map.set(n, { ...rel, name: primary });
  };

  // to-one, from the referencing side
  for (const t of tables) {
    for (const fk of t.foreignKeys) {
      const target = byKey.get(`${fk.refSchema}.${fk.refTable}`);
      if (!target) continue;
      const col = fk.columns.length === 1 ? fk.columns[0]! : undefined;
      const names = col?.endsWith('_id') ? [col.slice(0, -3)] : [singular(target.name)];
      add(t, names, `${target.name}_by_${fk.columns.join('_')}`, {
        kind: 'one', target: target.name, columns: fk.columns, targetColumns: fk.refColumns,
      });
    }
  }
  // to-many (or one-to-one when the key is unique), from the referenced side: the full name first;
  // the short alias (`items`) only after many-to-many names, which take precedence (`posts` →
  // `tags` through `post_tags` rather than the junction rows).
  const aliases: Array<{ owner: RelationInput; alias: string; full: string }> = [];
  for (const t of tables) {
    for (const fk of t.foreignKeys) {
      const target = byKey.get(`${fk.refSchema}.${fk.refTable}`);
      if (!target) continue;
      const several = t.foreignKeys.filter((f) => f.refSchema === fk.refSchema && f.refTable === fk.refTable).length > 1;
      const unique = isUnique(t, fk.columns);
      const base = unique ? singular(t.name) : t.name;
      const prefix = `${singular(target.name)}_`;
      add(target, several ? [] : [base], `${t.name}_by_${fk.columns.join('_')}`, {
        kind: unique ? 'one' : 'many', target: t.name, columns: fk.refColumns, targetColumns: fk.columns,
      });
      if (!several && base.startsWith(prefix) && base.length > prefix.length) aliases.push({ owner: target, alias: base.slice(prefix.length), full: base });
    }
  }
  // many-to-many through junction tables
  for (const j of tables) {
    const fks = j.foreignKeys;
    for (let a = 0; a < fks.length; a++) {
      for (let b = 0; b < fks.length; b++) {
        if (a === b) continue;
        const fa = fks[a]!, fb = fks[b]!;
        const key = [...fa.columns, ...fb.columns];
        if (!j.uniqueKeys.some((k) => key.every((c) => k.includes(c)))) continue;
        const src = byKey.get(`${fa.refSchema}.${fa.refTable}`);
        const dst = byKey.get(`${fb.refSchema}.${fb.refTable}`);
        if (!src || !dst || src === dst) continue;
        add(src, [dst.name], `${dst.name}_via_${j.name}`, {
          kind: 'manyToMany', target: dst.name, columns: fa.refColumns, targetColumns: fb.refColumns,
          junction: { resource: j.name, schema: j.schema, table: j.table, sourceColumns: fa.columns, targetColumns: fb.columns },
        });
      }
    }
  }
  for (const { owner, alias, full } of aliases) {
    const map = out.get(owner.name)!;
    const rel = map.get(full);
    if (!rel || owner.columns.includes(alias) || map.has(alias)) continue;
    const named = { ...rel, name: alias }; // the short name is the one users write (`include=items`)
    map.set(full, named);
    map.set(alias, named);
  }
  return out;
}

/**
 * Names the OpenAPI document gives each resource: a component base name (`sales.orders` →
 * `SalesOrders`) that is a valid component key and unique together with its derived names
 * (`…Insert`, `…Update`, `…Replace`), and the path segment of the resource.
 */
import type { Resource } from '../schema/model.ts';

/** Component names the document itself uses; resources must not take them. */
const FIXED_COMPONENTS = ['Problem', 'Pagination', 'FieldError'] as const;
const SUFFIXES = ['', 'Insert', 'Update', 'Replace'] as const;

/** `order_items` → `OrderItems`; a name with no ASCII letter or digit becomes `Resource`. */
function pascal(name: string): string {
  // Accents come off (`é` → `e`); other non-ASCII letters cannot be in a component name.
  const words = name.normalize('NFKD').replace(/\p{M}/gu, '').split(/[^A-Za-z0-9]+/).filter(Boolean);
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (joined === '') return 'Resource';
  return /^[0-9]/.test(joined) ? `R${joined}` : joined;
}

/**
 * Component base name per resource, decided in name order so the result only depends on the set of
 * resources: a clash (`order_items` and `orderItems`) takes the next free numbered name.
 * @example componentNames([orders, salesOrders]).get('sales.orders') === 'SalesOrders'
 */
export function componentNames(resources: readonly Resource[]): Map<string, string> {
  const used = new Set<string>(FIXED_COMPONENTS);
  const out = new Map<string, string>();
  for (const name of resources.map((r) => r.name).sort()) {
    const base = pascal(name);
    let candidate = base;
    for (let n = 2; SUFFIXES.some((s) => used.has(candidate + s)); n++) candidate = `${base}${n}`;
    for (const s of SUFFIXES) used.add(candidate + s);
    out.set(name, candidate);
  }
  return out;
}

/** The path of a resource relative to the server URL. @example resourcePath(orders) === '/orders' */
export function resourcePath(resource: Resource): string {
  return `/${encodeURIComponent(resource.name)}`;
}

/** A `$ref` to a component schema. @example ref('Orders') → { $ref: '#/components/schemas/Orders' } */
export function ref(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

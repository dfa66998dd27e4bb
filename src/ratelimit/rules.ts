/**
 * The limits of `rateLimits` (SPEC §7) compiled for the hot path: each rule knows its store key
 * prefix and its header strings, and {@link RuleTable} answers "which rules apply to this method
 * and resource" with a map lookup, split into the ones keyed by the client address (decidable
 * before credentials are checked) and the ones that need the caller's principal.
 */
import type { Config } from '../config/schema.ts';
import type { Principal } from '../auth/principal.ts';

export type RuleKey = 'ip' | 'apiKey' | 'user' | 'role';

export interface Rule {
  readonly name: string;
  readonly key: RuleKey;
  /** Requests admitted in any window-long interval. */
  readonly limit: number;
  /** Milliseconds. */
  readonly window: number;
  /** `{prefix}rl:{name}:`: the store key of a caller is this plus the caller's key value. */
  readonly keyPrefix: string;
  /** `limit` as the headers write it. */
  readonly limitText: string;
}

/** The rules that apply to one method and resource. */
export interface RulePlan {
  /** Keyed by the client address: decided before any credential is looked up. */
  readonly ip: readonly Rule[];
  /** Keyed by the principal (apiKey, user, role). */
  readonly principal: readonly Rule[];
  /** Both, decided together when the principal is known at once. */
  readonly all: readonly Rule[];
}

const NONE: RulePlan = Object.freeze({ ip: [], principal: [], all: [] });
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

type RuleConfig = NonNullable<Config['rateLimits']>[number];

/** @example compileRules(config.rateLimits, 'sluice:')[0].keyPrefix === 'sluice:rl:per-ip:' */
export function compileRules(limits: readonly RuleConfig[], prefix: string): Rule[] {
  return limits.map((l) => Object.freeze({ name: l.name, key: l.key, limit: l.limit, window: l.window, keyPrefix: `${prefix}rl:${l.name}:`, limitText: String(l.limit) }));
}

/**
 * The caller's value for a principal-keyed rule, or null when the rule does not apply to it: an
 * `apiKey` rule applies to API-key callers (the key id), a `user` rule to callers with a subject
 * (a JWT's `sub`, or the subject an API key was created for), a `role` rule to every caller (one
 * budget shared by the whole role).
 * @example keyValue('role', principal) === 'customer'
 */
export function keyValue(key: RuleKey, principal: Principal): string | null {
  switch (key) {
    case 'apiKey': return principal.kind === 'apiKey' ? principal.id : null;
    case 'user': {
      if (principal.kind === 'jwt') return principal.id;
      const sub = principal.kind === 'apiKey' ? principal.claims.sub : undefined;
      return typeof sub === 'string' || typeof sub === 'number' ? String(sub) : null;
    }
    case 'role': return principal.role;
    default: return null;
  }
}

/** @example new RuleTable(rules, config.rateLimits).plan('POST', 'orders').ip */
export class RuleTable {
  private readonly byMethod = new Map<string, { readonly byResource: ReadonlyMap<string, RulePlan>; readonly other: RulePlan }>();

  constructor(rules: readonly Rule[], limits: readonly RuleConfig[]) {
    const named = new Set(limits.flatMap((l) => l.resources ?? []));
    const applies = (i: number, method: string, resource: string | null) => {
      const { methods, resources } = limits[i]!;
      // HEAD is a GET without a body: a limit on GET covers it.
      const methodOk = !methods || methods.includes(method as never) || (method === 'HEAD' && methods.includes('GET'));
      return methodOk && (!resources || (resource !== null && resources.includes(resource)));
    };
    const planOf = (method: string, resource: string | null): RulePlan => {
      const chosen = rules.filter((_, i) => applies(i, method, resource));
      if (!chosen.length) return NONE;
      const ip = chosen.filter((r) => r.key === 'ip');
      const principal = chosen.filter((r) => r.key !== 'ip');
      return Object.freeze({ ip, principal, all: [...ip, ...principal] });
    };
    for (const method of METHODS) {
      const byResource = new Map([...named].map((r) => [r, planOf(method, r)] as const));
      this.byMethod.set(method, { byResource, other: planOf(method, null) });
    }
  }

  /** The rules for a request; resources no rule names share one plan (no per-name state). */
  plan(method: string, resource: string | undefined): RulePlan {
    const m = this.byMethod.get(method);
    if (!m) return NONE;
    return (resource !== undefined && m.byResource.get(resource)) || m.other;
  }
}

/** True when the plan has no rule at all. */
export const isEmpty = (plan: RulePlan): boolean => plan.all.length === 0;

/** One caller's store keys under one list of rules: the rules that apply to it, `keys[i]` for `rules[i]`, and one string naming them together. */
export interface CallerKeys {
  readonly keys: readonly string[];
  readonly rules: readonly Rule[];
  /** The key when there is one, else the keys joined: what a store remembers the caller by. */
  readonly id: string;
}

/** {@link CallerKeys.id} of `keys`. @example callerId(['p:rl:ip:1', 'p:rl:role:anon']) === 'p:rl:ip:1\np:rl:role:anon' */
export const callerId = (keys: readonly string[]): string => (keys.length === 1 ? keys[0]! : keys.join('\n'));

/** Map levels of {@link CallerKeyMemo}: one per rule, keyed by the caller's value for it (null: the rule does not apply). */
type Level = Map<string | null, Level | CallerKeys | null>;

/**
 * The store keys of callers, remembered: a request of a caller seen before builds no string and
 * hashes none (its address and role are strings the hash of which V8 already knows), it follows
 * one map per rule to the same {@link CallerKeys} as before. Bounded: past `max` callers every
 * entry is forgotten at once (they are only strings to build again).
 * @example new CallerKeyMemo().of(plan.all, request.ip, principal)?.keys
 */
export class CallerKeyMemo {
  private byRules = new Map<readonly Rule[], Level>();
  private size = 0;
  private readonly max: number;

  constructor(max = 50_000) {
    this.max = max;
  }

  /** The keys of the caller with address `ip` and `principal` (null: not known yet) under `rules`; null when none applies. */
  of(rules: readonly Rule[], ip: string, principal: Principal | null): CallerKeys | null {
    if (!rules.length) return null;
    let level = this.byRules.get(rules);
    if (!level) this.byRules.set(rules, (level = new Map()));
    const last = rules.length - 1;
    for (let i = 0; i < last; i++) {
      const value = valueOf(rules[i]!, ip, principal);
      let next = level.get(value) as Level | undefined;
      if (!next) level.set(value, (next = new Map()));
      level = next;
    }
    const value = valueOf(rules[last]!, ip, principal);
    const found = level.get(value);
    if (found !== undefined) return found as CallerKeys | null;
    if (this.size >= this.max) {
      this.byRules = new Map();
      this.size = 0;
      return this.of(rules, ip, principal);
    }
    const keys: string[] = [];
    const chosen: Rule[] = [];
    for (const rule of rules) {
      const v = valueOf(rule, ip, principal);
      if (v === null) continue;
      keys.push(rule.keyPrefix + v);
      chosen.push(rule);
    }
    const caller = keys.length ? Object.freeze({ keys, rules: chosen, id: callerId(keys) }) : null;
    level.set(value, caller);
    this.size++;
    return caller;
  }
}

const valueOf = (rule: Rule, ip: string, principal: Principal | null): string | null =>
  rule.key === 'ip' ? ip : principal && keyValue(rule.key, principal);

/**
 * The `rateLimits` and `rateLimitFallback` configuration: the documented shape is accepted with
 * units and defaults, and every mistake stops start-up with one message naming the key, the value
 * and what was expected.
 */
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { CallerKeyMemo, compileRules } from '../../src/ratelimit/rules.ts';
import type { Principal } from '../../src/auth/principal.ts';

const load = (flags: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, flags, cwd: '/nonexistent' });
async function failure(rateLimits: unknown): Promise<string> {
  const err = await load({ rateLimits }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as Error).message;
}
const ok = { name: 'per-ip', key: 'ip', limit: 100, window: '15m' };

describe('rateLimits configuration', () => {
  test("SPEC §1's example is accepted: windows in ms, methods upper-cased, defaults of the fallback", async () => {
    const { config } = await load({
      rateLimits: [
        ok,
        { name: 'per-key', key: 'apiKey', limit: 1000, window: '1h' },
        { name: 'writes', key: 'user', limit: '60', window: '1m', methods: ['post', 'PATCH', 'PUT', 'DELETE'], resources: ['orders'] },
      ],
    });
    expect(config.rateLimits).toEqual([
      { name: 'per-ip', key: 'ip', limit: 100, window: 900_000 },
      { name: 'per-key', key: 'apiKey', limit: 1000, window: 3_600_000 },
      { name: 'writes', key: 'user', limit: 60, window: 60_000, methods: ['POST', 'PATCH', 'PUT', 'DELETE'], resources: ['orders'] },
    ]);
    expect(config.rateLimitFallback).toEqual({ instances: 1, probeInterval: 1000, maxBytes: 16 * 1024 * 1024 });
  });

  test('the instance count of the fallback may come from the environment', async () => {
    const { config } = await load({}, { SLUICE_RATE_LIMIT_FALLBACK_INSTANCES: '4' });
    expect(config.rateLimitFallback.instances).toBe(4);
  });

  test.each([
    [[ok, { ...ok, name: 'b', window: '2x' }], /rateLimits\[1\]\.window = "2x".*expected a duration/],
    [[ok, { ...ok, name: 'b', window: '500ms' }], /rateLimits\[1\]\.window = "500ms".*from 1s to 30d/],
    [[{ ...ok, key: 'ipx' }], /rateLimits\[0\]\.key = "ipx".*expected ip, apiKey, user or role/],
    [[{ name: 'x', key: 'ip', window: '1s' }], /rateLimits\[0\]\.limit = undefined.*expected an integer from 1 to 100000/],
    [[{ ...ok, limit: 0 }], /rateLimits\[0\]\.limit = 0/],
    [[{ ...ok, limit: 2.5 }], /rateLimits\[0\]\.limit = 2\.5/],
    [[{ ...ok, limit: 1_000_000 }], /rateLimits\[0\]\.limit = 1000000/],
    [[{ name: 'x', key: 'ip', limit: 1 }], /rateLimits\[0\]\.window = undefined/],
    [[{ ...ok, methods: ['GET', 'FETCH'] }], /rateLimits\[0\]\.methods\[1\] = "FETCH".*expected methods among GET, HEAD, POST, PUT, PATCH, DELETE/],
    [[{ ...ok, resources: [] }], /rateLimits\[0\]\.resources/],
    [[{ ...ok, name: 'has space' }], /rateLimits\[0\]\.name = "has space"/],
    [[ok, { ...ok }], /rateLimits\[1\]\.name = "per-ip".*used twice/],
    [[{ ...ok, burst: 5 }], /unknown key 'rateLimits\[0\]\.burst'/],
    ['per-ip', /rateLimits = "per-ip".*expected a list of limits/],
  ])('%j is refused naming the key', async (rateLimits, message) => {
    const text = await failure(rateLimits);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  test('a bad fallback setting names its key', async () => {
    const err = await load({ 'rateLimitFallback.instances': 0 }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/rateLimitFallback\.instances = 0.*expected an integer from 1/);
  });
});

describe('store keys of callers (CallerKeyMemo)', () => {
  const rules = compileRules([
    { name: 'per-ip', key: 'ip', limit: 10, window: 1000 },
    { name: 'per-key', key: 'apiKey', limit: 10, window: 1000 },
    { name: 'per-role', key: 'role', limit: 10, window: 1000 },
  ], 'p:');
  const anon: Principal = { kind: 'anonymous', role: 'anon', claims: {}, id: null, tier: null };
  const key = (id: string): Principal => ({ kind: 'apiKey', role: 'reader', claims: { sub: 'u1' }, id, tier: null });

  test('a caller gets the keys of the rules that apply to it, the same object each time; another caller other keys', () => {
    const memo = new CallerKeyMemo();
    const a = memo.of(rules, '10.0.0.1', anon);
    expect(a).toEqual({ keys: ['p:rl:per-ip:10.0.0.1', 'p:rl:per-role:anon'], rules: [rules[0], rules[2]], id: 'p:rl:per-ip:10.0.0.1\np:rl:per-role:anon' });
    expect(memo.of(rules, '10.0.0.1', { ...anon })).toBe(a);
    expect(memo.of(rules, '10.0.0.2', anon)!.keys).toEqual(['p:rl:per-ip:10.0.0.2', 'p:rl:per-role:anon']);
    expect(memo.of(rules, '10.0.0.1', key('k1'))!.keys).toEqual(['p:rl:per-ip:10.0.0.1', 'p:rl:per-key:k1', 'p:rl:per-role:reader']);
    expect(memo.of(rules, '10.0.0.1', key('k2'))!.id).toBe('p:rl:per-ip:10.0.0.1\np:rl:per-key:k2\np:rl:per-role:reader');
    // The address alone (credentials not checked yet): the ip rule only; no rule at all: null.
    expect(memo.of(rules, '10.0.0.1', null)).toEqual({ keys: ['p:rl:per-ip:10.0.0.1'], rules: [rules[0]], id: 'p:rl:per-ip:10.0.0.1' });
    expect(memo.of([rules[1]!], '10.0.0.1', anon)).toBeNull();
    expect(memo.of([], '10.0.0.1', anon)).toBeNull();
  });

  test('bounded: past its size every caller is forgotten, and the keys are built again, equal', () => {
    const memo = new CallerKeyMemo(100);
    const first = memo.of(rules, '10.0.0.1', anon);
    for (let i = 2; i <= 150; i++) memo.of(rules, `10.0.0.${i}`, anon);
    const again = memo.of(rules, '10.0.0.1', anon);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});

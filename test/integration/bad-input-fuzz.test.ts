/**
 * Seeded fuzzing of the query grammar (issue 2, item 11): 2,000 random query strings against
 * GET /api/v1/orders per dialect. None may yield a 5xx; every 4xx is a proper problem+json
 * without SQL text or a stack. `SLUICE_FUZZ_SEED=<n>` replays a run (`SLUICE_FUZZ_RUNS=<n>` runs longer); a failure prints the seed
 * and the failing URLs.
 */
import { describe, expect, it } from 'vitest';
import { dialects } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';
import { checkProblem, excerpt } from '../support/bad-input-problem.ts';
import { countOf } from '../support/bad-input-state.ts';
import { fuzzQueries } from '../support/bad-input-fuzz.ts';

const RUNS = process.env.SLUICE_FUZZ_RUNS ? Number(process.env.SLUICE_FUZZ_RUNS) : 2000;
const SEED = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : 20_241_111;

describe.each(await dialects())('fuzzed query strings (%s)', (dialect) => {
  const s = useShop(dialect);

  it(`${RUNS} random query strings: never a 5xx, every 4xx a clean problem (seed ${SEED})`, async () => {
    const next = fuzzQueries(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const codes = new Set<string>();
    for (let i = 0; i < RUNS; i++) {
      const url = `/api/v1/orders?${next()}`;
      let res;
      try {
        res = await s().get(url);
      } catch (err) {
        failures.push(`#${i} GET ${url}\n    inject threw: ${(err as Error).message}`);
        continue;
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 400) codes.add(String((JSON.parse(res.body) as { code?: unknown }).code));
      const issues = res.statusCode >= 500 ? [`a ${res.statusCode}`, ...checkProblem(res, { status: 400 }).filter((x) => !x.startsWith('status '))]
        : res.statusCode >= 400 ? checkProblem(res, { status: res.statusCode })
        : res.statusCode === 200 ? [] : [`unexpected status ${res.statusCode}`];
      if (issues.length) failures.push(`#${i} GET ${url}\n    → ${res.statusCode} ${excerpt(res.body, 300)}\n    ${issues.join('; ')}`);
    }
    const summary = [...statuses].sort(([a], [b]) => a - b).map(([k, v]) => `${k}: ${v}`).join(', ');
    expect(failures, `seed ${SEED} (replay with SLUICE_FUZZ_SEED=${SEED}); statuses ${summary}; ${failures.length} failing:\n${failures.slice(0, 25).join('\n')}`).toEqual([]);
    // The strings must reach the planner and the database, not only the URL parser.
    expect(statuses.get(200) ?? 0, `statuses ${summary}`).toBeGreaterThan(RUNS / 10);
    expect(codes.size, `codes seen: ${[...codes].join(', ')}`).toBeGreaterThanOrEqual(6);
  }, 120_000);

  it('the orders are all still there', async () => {
    expect(await countOf(s(), 'orders')).toBe(10_000);
  });
});

/**
 * Human units in configuration: durations (`500ms`, `2s`, `15m`, `1h`, `1d`) and sizes (`512kb`,
 * `1mb`). Plain numbers are milliseconds and bytes.
 */
const DURATION = { pattern: /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i, base: 'ms', factors: { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number> };
const SIZE = { pattern: /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i, base: 'b', factors: { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 } as Record<string, number> };

function parseUnit(value: unknown, unit: typeof DURATION, integral: boolean): number | undefined {
  if (typeof value === 'number') return (integral ? Number.isInteger(value) : Number.isFinite(value)) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = unit.pattern.exec(value.trim());
  return m ? Math.round(Number(m[1]) * unit.factors[(m[2] ?? unit.base).toLowerCase()]!) : undefined;
}

/** @example parseDuration('2s') === 2000 */
export function parseDuration(value: unknown): number | undefined {
  return parseUnit(value, DURATION, false);
}

/** @example parseSize('1mb') === 1048576 */
export function parseSize(value: unknown): number | undefined {
  return parseUnit(value, SIZE, true);
}

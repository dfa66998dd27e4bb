/**
 * Full-text matching for SQLite, registered as the SQL function `sluice_match(text, query)`, with
 * the semantics of PostgreSQL's `websearch_to_tsquery('simple', …)`: words are lower-cased runs of
 * letters and digits; every term must match; `"a b"` is a phrase; `-word` excludes; `or` between
 * two terms matches either. So `search` answers alike on both dialects (no stemming, as 'simple').
 */

const WORD = /[\p{L}\p{N}]+/gu;

interface Term {
  readonly words: readonly string[];
  readonly negate: boolean;
}

/** Lower-cased words of a text. */
export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** `a "b c" or -d` → AND of OR-groups: [[a], [phrase b c, not d]] */
export function parseSearch(query: string): Term[][] {
  const groups: Term[][] = [];
  let joinNext = false;
  for (const m of query.matchAll(/(-?)"([^"]*)"?|(-?)(\S+)/g)) {
    const phrase = m[2] !== undefined;
    const raw = phrase ? m[2]! : m[4]!;
    const negate = (phrase ? m[1] : m[3]) === '-';
    if (!phrase && !negate && raw.toLowerCase() === 'or') {
      joinNext = groups.length > 0;
      continue;
    }
    const ws = words(raw);
    if (ws.length === 0) continue;
    const term = { words: ws, negate };
    if (joinNext) groups.at(-1)!.push(term);
    else groups.push([term]);
    joinNext = false;
  }
  return groups;
}

function contains(tokens: readonly string[], phrase: readonly string[]): boolean {
  outer: for (let i = 0; i + phrase.length <= tokens.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (tokens[i + j] !== phrase[j]) continue outer;
    return true;
  }
  return false;
}

/** SQLite calls `sluice_match` once per row with the same query: parse each query once. */
const parsed = new Map<string, Term[][]>();

/** @example matches('Customer 17', 'customer 7') === false */
export function matches(text: string, query: string): boolean {
  let groups = parsed.get(query);
  if (!groups) {
    if (parsed.size >= 256) parsed.clear();
    parsed.set(query, (groups = parseSearch(query)));
  }
  if (groups.length === 0) return false;
  const tokens = words(text);
  return groups.every((group) => group.some((t) => contains(tokens, t.words) !== t.negate));
}

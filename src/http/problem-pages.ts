/** The pages behind every problem `type` (`/problems/{slug}`): title, status and what to do. */
import { PROBLEMS } from '../errors/registry.ts';

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function problemPage(slug: string): string | null {
  const entry = Object.entries(PROBLEMS).find(([, p]) => p.slug === slug);
  if (!entry) return null;
  const [code, p] = entry;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(p.title)} · Sluice</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .3em}</style></head>
<body><h1>${escape(p.title)}</h1><p>HTTP status <strong>${p.status}</strong> · code <code>${code}</code></p><p>${escape(p.help).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>
<p><a href="/docs">API documentation</a></p></body></html>`;
}

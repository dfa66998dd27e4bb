/**
 * Runs a write with what the caller's policy and the audit log need around it, in one
 * transaction: an optional first step (bulk writes count what they would touch), the rows'
 * images before (locked), the write, the images after with the policy's check evaluated on each
 * written row, and the audit records. A failed check throws, so the transaction rolls back and
 * nothing was written. A write needing none of that is one statement, as before.
 */
import type { Engine } from '../engine.ts';
import type { Executor, Row } from '../db/database.ts';
import type { Resource } from '../schema/model.ts';
import type { Compiled } from '../sql/statement.ts';
import type { PlanFilter } from '../plan/nodes.ts';
import type { Caller } from './caller.ts';
import { SluiceError } from '../errors/registry.ts';
import { mapDatabaseError } from '../db/errors.ts';
import { fillSlots } from '../auth/principal.ts';
import { keyFilter } from '../plan/mutate-plan.ts';
import { auditEntries, auditInsert, type AuditAction } from '../auth/audit.ts';
import { writeTags } from '../cache/tags.ts';

export interface GuardedWrite {
  /** The resource as the database has it (all columns). */
  readonly resource: Resource;
  readonly action: AuditAction;
  /** Rows come back as [j, k0…kn, …]. */
  readonly write: Compiled;
  /** The rows the write may change, whole (compiler.rowImages with lock), for the audit log. */
  readonly before?: Compiled | null;
  /** What every written row must satisfy. */
  readonly check?: PlanFilter | null;
  /** Runs first in the transaction (a bulk write's row count); throws to abort. */
  readonly first?: (tx: Executor, run: (c: Compiled) => Promise<Row[]>) => Promise<void>;
  /** An upsert limited by the caller's update filter: fewer rows than this means a row it may not change. */
  readonly expectRows?: number;
  readonly requestId: string;
}

const forbidden = (detail: string) => new SluiceError('SLUICE_FORBIDDEN', `${detail}; nothing was changed`);

/** The primary-key filter matching the rows a write returned ([j, k0…kn, …]). */
function writtenRows(resource: Resource, rows: readonly Row[]): PlanFilter {
  const keyOf = (row: Row) => keyFilter(resource, row.slice(1, 1 + resource.primaryKey.length));
  return rows.length === 1 ? keyOf(rows[0]!) : { kind: 'or', negate: false, items: rows.map(keyOf) };
}

/** @example const rows = await guardedWrite(engine, caller, { resource, action: 'update', write, check, requestId }) */
export async function guardedWrite(engine: Engine, caller: Caller, job: GuardedWrite): Promise<Row[]> {
  const { compiler, db } = engine;
  const { resource, check } = job;
  if (job.write.params.length > compiler.maxParams) {
    throw new SluiceError('SLUICE_BATCH_TOO_LARGE', `this write needs ${job.write.params.length} values, more than one ${db.dialect} statement carries (${compiler.maxParams}); send fewer rows at once`);
  }
  if (check && resource.primaryKey.length === 0 && job.action !== 'delete') throw forbidden(`${resource.name} has no primary key, so the role's write check cannot be verified`);
  const rows = await write(engine, caller, job);
  // Committed: cached reads of the tables it may have changed are stale from now on, here at once
  // and on every instance once Redis has passed it on (awaited before the client hears back).
  await engine.cache?.versions.written(writeTags(engine.snapshot(), resource, job.action === 'create' && job.before ? 'update' : job.action));
  return rows;
}

async function write(engine: Engine, caller: Caller, job: GuardedWrite): Promise<Row[]> {
  const { compiler, db } = engine;
  const claims = caller.principal.claims;
  const audit = engine.config.auth.audit.enabled;
  const { resource, check } = job;
  const keyCount = resource.primaryKey.length;
  try {
    if (!audit && !check && !job.first && job.expectRows === undefined) {
      return await db.write(job.write.text, fillSlots(job.write, claims, compiler));
    }
    return await db.transaction(async (tx) => {
      const run = (c: Compiled) => tx.query(c.text, fillSlots(c, claims, compiler));
      await job.first?.(tx, run);
      const before = audit && job.before ? await run(job.before) : [];
      const rows = await run(job.write);
      if (job.expectRows !== undefined && rows.length < job.expectRows) {
        throw forbidden(`a row with this key exists that role '${caller.principal.role}' may not change`);
      }
      let after: Row[] = [];
      if ((audit || check) && rows.length > 0 && job.action !== 'delete') {
        if (keyCount === 0) after = rows.map((r) => [r[0]]);
        else {
          after = await run(compiler.rowImages(resource, writtenRows(resource, rows), { check }));
          if (check && after.some((r) => Number(r[1 + keyCount]) !== 1)) {
            throw forbidden(`the written row would be outside what role '${caller.principal.role}' may write to ${resource.name}`);
          }
        }
      }
      if (audit) {
        const entries = auditEntries(job.action, keyCount, before, job.action === 'delete' ? [] : after);
        if (job.action === 'delete' && !job.before) entries.push(...rows.map((r) => ({ action: 'delete' as const, key: null, before: String(r[0]), after: null })));
        if (entries.length) await run(auditInsert(db.dialect, caller.principal, resource.name, job.requestId, entries));
      }
      return rows;
    });
  } catch (err) {
    throw mapDatabaseError(err, true);
  }
}

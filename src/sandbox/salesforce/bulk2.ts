import express from 'express';
import type { Request, Response, Router } from 'express';
import { ApiFault, RecordFault } from './api-fault';
import type { RecordError } from './api-fault';
import { DELIMITERS, fromCsv, toCsv } from './bulk2-csv';
import type { CsvFormat } from './bulk2-csv';
import { formatDateTime } from './dates';
import { KeyPrefix, to18 } from './ids';
import type { Org } from './org';
import { callContext, requestOrg, writeContext } from './rest-context';
import { compileOrFault, queryRows } from './rest-query';
import type { Transaction, WriteContext } from './store';
import { deserializeCsvRow } from './validation';

/** Bulk processes ingest data in chunks of 200 records, each chunk its own transaction. */
const CHUNK = 200;
const OPERATIONS = ['insert', 'update', 'upsert', 'delete', 'hardDelete'] as const;
type IngestOperation = (typeof OPERATIONS)[number];
type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface JobBase {
  id: string;
  createdById: string;
  createdAt: number;
  apiVersion: string;
  format: CsvFormat;
  state: JobState;
}

interface QueryJob extends JobBase {
  kind: 'query';
  operation: 'query' | 'queryAll';
  header: string[];
  rows: string[][];
}

interface IngestJob extends JobBase {
  kind: 'ingest';
  operation: IngestOperation;
  externalIdFieldName: string | null;
  uploads: string[];
  writer: WriteContext;
  header: string[];
  successful: string[][];
  failed: string[][];
  unprocessed: string[][];
  errorMessage: string | null;
  finishedAt: number | null;
}

function bulkError(status: number, errorCode: string, message: string): ApiFault {
  return new ApiFault(status, errorCode, message);
}

function csvValue(v: string | number | boolean | null | undefined, isDateTime: boolean): string {
  if (v === null || v === undefined) return '';
  if (isDateTime && typeof v === 'string') return v.replace('+0000', 'Z');
  return String(v);
}

function formatFrom(body: Record<string, unknown>): CsvFormat {
  const columnDelimiter = typeof body.columnDelimiter === 'string' ? body.columnDelimiter : 'COMMA';
  if (!(columnDelimiter in DELIMITERS))
    throw bulkError(400, 'INVALIDJOB', `Invalid column delimiter: ${columnDelimiter}`);
  const lineEnding = body.lineEnding === 'CRLF' ? 'CRLF' : 'LF';
  return { columnDelimiter, lineEnding };
}

function recordErrorText(e: RecordError): string {
  return `${e.statusCode}:${e.message}:${e.fields.join(',')} --`;
}

/**
 * Bulk API 2.0 query and ingest jobs. Query jobs snapshot their result at creation and walk
 * UploadComplete -> InProgress -> JobComplete over `bulkPollDelayMs` each; ingest jobs are
 * processed once closed, in 200-record transactions that publish the same write events a
 * REST call would (api `bulkapi`).
 */
export class Bulk2 {
  private jobs = new Map<string, QueryJob | IngestJob>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(private readonly org: Org) {}

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  remove(job: QueryJob | IngestJob): void {
    this.jobs.delete(job.id);
  }

  createQuery(req: Request, res: Response): QueryJob {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const operation = body.operation ?? 'query';
    if (operation !== 'query' && operation !== 'queryAll')
      throw bulkError(400, 'INVALIDJOB', `Invalid operation: ${JSON.stringify(operation)}`);
    if (typeof body.query !== 'string') throw bulkError(400, 'INVALIDJOB', 'A query is required');
    const q = compileOrFault(this.org, body.query);
    if (q.count || q.offset > 0)
      throw bulkError(
        400,
        'INVALIDJOB',
        'COUNT() and OFFSET are not supported by Bulk API 2.0 queries',
      );
    const format = formatFrom(body);
    const ctx = callContext(res);
    const hits = queryRows(this.org, q, operation === 'queryAll');
    this.org.usage.countBulkQueryJob();
    const job: QueryJob = {
      kind: 'query',
      id: this.org.ids.next(KeyPrefix.job),
      createdById: ctx.userId,
      createdAt: this.org.now(),
      apiVersion: ctx.apiVersion,
      format,
      state: 'UploadComplete',
      operation,
      header: q.fields.map((f) => f.name),
      rows: hits.map((r) => q.fields.map((f) => csvValue(r[f.name], f.type === 'datetime'))),
    };
    this.jobs.set(job.id, job);
    return job;
  }

  createIngest(req: Request, res: Response): IngestJob {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.object !== 'string' || body.object.toLowerCase() !== 'contact') {
      throw bulkError(
        400,
        'INVALIDJOB',
        `InvalidJob : Unable to find object: ${String(body.object)}`,
      );
    }
    const operation = body.operation;
    if (!OPERATIONS.includes(operation as IngestOperation))
      throw bulkError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    let externalIdFieldName: string | null = null;
    if (operation === 'upsert') {
      const name = typeof body.externalIdFieldName === 'string' ? body.externalIdFieldName : '';
      const f = this.org.store.schema.field(name);
      if (!f)
        throw bulkError(
          400,
          'INVALIDJOB',
          `InvalidJob : Field name not found : ${name || '(none)'}`,
        );
      if (!f.externalId && f.name !== 'Id')
        throw bulkError(
          400,
          'INVALIDJOB',
          `InvalidJob : The field ${f.name} is not an External ID field`,
        );
      externalIdFieldName = f.name;
    }
    const ctx = callContext(res);
    const job: IngestJob = {
      kind: 'ingest',
      id: this.org.ids.next(KeyPrefix.job),
      createdById: ctx.userId,
      createdAt: this.org.now(),
      apiVersion: ctx.apiVersion,
      format: formatFrom(body),
      state: 'Open',
      operation: operation as IngestOperation,
      externalIdFieldName,
      uploads: [],
      writer: writeContext(res, 'bulkapi'),
      header: [],
      successful: [],
      failed: [],
      unprocessed: [],
      errorMessage: null,
      finishedAt: null,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  private job(req: Request): QueryJob | IngestJob {
    const job = this.jobs.get(to18(String(req.params.id)) ?? '');
    if (!job) throw bulkError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return job;
  }

  queryJob(req: Request): QueryJob {
    const job = this.job(req);
    if (job.kind !== 'query')
      throw bulkError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return job;
  }

  ingestJob(req: Request): IngestJob {
    const job = this.job(req);
    if (job.kind !== 'ingest')
      throw bulkError(404, 'NOT_FOUND', 'The requested resource does not exist');
    return job;
  }

  abort(job: QueryJob | IngestJob, req: Request): void {
    const state = (req.body as { state?: unknown } | undefined)?.state;
    if (state !== 'Aborted')
      throw bulkError(400, 'INVALIDJOBSTATE', `Invalid state: ${String(state)}`);
    const current = job.kind === 'query' ? this.queryState(job) : job.state;
    if (current === 'JobComplete' || current === 'Failed') {
      throw bulkError(409, 'INVALIDJOBSTATE', `Job ${job.id} has already finished: ${current}`);
    }
    job.state = 'Aborted';
    if (job.kind === 'ingest') {
      // Uploaded rows that never ran are reported back as unprocessed.
      try {
        const parts = job.uploads.map((u) => fromCsv(u, job.format));
        job.header = parts[0]?.header ?? [];
        job.unprocessed = parts.flatMap((p) =>
          p.rows.map((r) => job.header.map((h) => r[h] ?? '')),
        );
      } catch {
        job.unprocessed = [];
      }
    }
  }

  /** Query jobs move on with time alone. */
  private queryState(job: QueryJob): JobState {
    if (job.state === 'Aborted') return job.state;
    const age = this.org.now() - job.createdAt;
    const d = this.org.config.bulkPollDelayMs;
    return age < d ? 'UploadComplete' : age < 2 * d ? 'InProgress' : 'JobComplete';
  }

  results(req: Request, res: Response): void {
    const job = this.queryJob(req);
    if (this.queryState(job) !== 'JobComplete')
      throw bulkError(412, 'JOB_NOT_COMPLETE', `Job ${job.id} is not complete`);
    let offset = 0;
    if (typeof req.query.locator === 'string' && req.query.locator !== '') {
      offset = Number(Buffer.from(req.query.locator, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0 || offset > job.rows.length) {
        throw bulkError(400, 'INVALIDLOCATOR', `Invalid locator: ${req.query.locator}`);
      }
    }
    const asked = Number(req.query.maxRecords);
    const size = Number.isInteger(asked) && asked > 0 ? asked : this.org.config.bulkResultPageSize;
    const rows = job.rows.slice(offset, offset + size);
    const next = offset + rows.length;
    res.setHeader('Sforce-NumberOfRecords', String(rows.length));
    res.setHeader(
      'Sforce-Locator',
      next < job.rows.length ? Buffer.from(String(next)).toString('base64url') : 'null',
    );
    res.type('text/csv').send(toCsv([job.header, ...rows], job.format));
  }

  schedule(job: IngestJob): void {
    const d = this.org.config.bulkPollDelayMs;
    const later = (ms: number, fn: () => void): void => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        fn();
      }, ms);
      this.timers.add(t);
    };
    later(d, () => {
      if (job.state !== 'UploadComplete') return;
      job.state = 'InProgress';
      later(d, () => {
        if (job.state === 'InProgress') this.process(job);
      });
    });
  }

  private process(job: IngestJob): void {
    let parsed: { header: string[]; rows: Record<string, string>[] };
    try {
      const parts = job.uploads.map((u) => fromCsv(u, job.format));
      parsed = { header: parts[0]?.header ?? [], rows: parts.flatMap((p) => p.rows) };
    } catch (err) {
      this.fail(
        job,
        `InvalidBatch : Failed to parse CSV: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    job.header = parsed.header;
    const unknown = parsed.header.find((h) => !this.org.store.schema.field(h));
    if (unknown !== undefined) {
      job.unprocessed = parsed.rows.map((r) => parsed.header.map((h) => r[h] ?? ''));
      this.fail(job, `InvalidBatch : Field name not found : ${unknown}`);
      return;
    }
    for (let i = 0; i < parsed.rows.length; i += CHUNK) {
      const chunk = parsed.rows.slice(i, i + CHUNK);
      const tx = this.org.store.begin(job.writer);
      const keyCounts = this.keyCounts(job, chunk);
      for (const row of chunk) {
        const input = parsed.header.map((h) => row[h] ?? '');
        try {
          const { id, created } = this.apply(job, tx, row, keyCounts);
          job.successful.push([id, String(created), ...input]);
        } catch (err) {
          if (!(err instanceof RecordFault)) throw err;
          const rawId = Object.entries(row).find(([k]) => k.toLowerCase() === 'id')?.[1] ?? '';
          job.failed.push([to18(rawId) ?? '', recordErrorText(err.error), ...input]);
        }
      }
      tx.commit();
    }
    job.state = 'JobComplete';
    job.finishedAt = this.org.now();
  }

  private keyCounts(job: IngestJob, chunk: Record<string, string>[]): Map<string, number> {
    const counts = new Map<string, number>();
    const field = job.externalIdFieldName;
    if (job.operation !== 'upsert' || !field || field === 'Id') return counts;
    for (const row of chunk) {
      const v = Object.entries(row).find(([k]) => k.toLowerCase() === field.toLowerCase())?.[1];
      if (v) counts.set(v.toLowerCase(), (counts.get(v.toLowerCase()) ?? 0) + 1);
    }
    return counts;
  }

  private apply(
    job: IngestJob,
    tx: Transaction,
    row: Record<string, string>,
    keyCounts: Map<string, number>,
  ): { id: string; created: boolean } {
    const values = deserializeCsvRow(row, this.org.store.schema);
    const { Id: rawId, ...rest } = values;
    const requireId = (): string => {
      const id = typeof rawId === 'string' ? to18(rawId) : null;
      if (rawId === undefined || rawId === null)
        throw new RecordFault('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
      if (!id || !id.startsWith(KeyPrefix.contact))
        throw new RecordFault(
          'MALFORMED_ID',
          `Contact ID: id value of incorrect type: ${String(rawId)}`,
          ['Id'],
        );
      return id;
    };
    switch (job.operation) {
      case 'insert':
        if (rawId !== undefined && rawId !== null)
          throw new RecordFault('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
        return { id: tx.insert(rest), created: true };
      case 'update': {
        const id = requireId();
        tx.update(id, rest);
        return { id, created: false };
      }
      case 'delete':
      case 'hardDelete': {
        const id = requireId();
        tx.remove(id);
        return { id, created: false };
      }
      case 'upsert': {
        const field = job.externalIdFieldName!;
        if (field === 'Id') {
          if (rawId === undefined || rawId === null) return { id: tx.insert(rest), created: true };
          const id = requireId();
          tx.update(id, rest);
          return { id, created: false };
        }
        const key = rest[field];
        if (key === undefined || key === null)
          throw new RecordFault('MISSING_ARGUMENT', `${field} not specified`, [field]);
        const keyText = String(key);
        if ((keyCounts.get(keyText.toLowerCase()) ?? 0) > 1) {
          throw new RecordFault(
            'DUPLICATE_EXTERNAL_ID',
            `Duplicate external id specified: ${keyText}`,
            [field],
          );
        }
        const existing = this.org.store.findByExternalId(field, keyText)[0];
        if (existing === undefined) return { id: tx.insert(rest), created: true };
        delete rest[field];
        tx.update(existing, rest);
        return { id: existing, created: false };
      }
    }
  }

  private fail(job: IngestJob, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
    job.finishedAt = this.org.now();
  }

  private base(job: QueryJob | IngestJob, state: JobState): Record<string, unknown> {
    const ts = formatDateTime(job.createdAt);
    return {
      id: job.id,
      operation: job.operation,
      object: 'Contact',
      createdById: job.createdById,
      createdDate: ts,
      systemModstamp: ts,
      state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      lineEnding: job.format.lineEnding,
      columnDelimiter: job.format.columnDelimiter,
    };
  }

  queryInfo(job: QueryJob): Record<string, unknown> {
    const state = this.queryState(job);
    return {
      ...this.base(job, state),
      jobType: 'V2Query',
      numberRecordsProcessed: state === 'JobComplete' ? job.rows.length : 0,
      retries: 0,
      totalProcessingTime: state === 'JobComplete' ? 2 * this.org.config.bulkPollDelayMs : 0,
    };
  }

  ingestInfo(job: IngestJob): Record<string, unknown> {
    return {
      ...this.base(job, job.state),
      ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
      contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`,
      jobType: 'V2Ingest',
      numberRecordsProcessed: job.successful.length + job.failed.length,
      numberRecordsFailed: job.failed.length,
      retries: 0,
      totalProcessingTime: job.finishedAt === null ? 0 : job.finishedAt - job.createdAt,
      apiActiveProcessingTime: 0,
      apexProcessingTime: 0,
      ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    };
  }

  list(kind: 'query' | 'ingest'): Record<string, unknown> {
    const records = [...this.jobs.values()]
      .filter((j) => j.kind === kind)
      .map((j) => (j.kind === 'query' ? this.queryInfo(j) : this.ingestInfo(j)));
    return { done: true, records, nextRecordsUrl: null };
  }
}

/** Bulk API 2.0 for every org of the server: each org's jobs live in its own `Bulk2`. */
export class Bulk2Service {
  /** Made on an org's first bulk call. */
  private readonly perOrg = new Map<Org, Bulk2>();

  of(org: Org): Bulk2 {
    let bulk = this.perOrg.get(org);
    if (!bulk) {
      bulk = new Bulk2(org);
      this.perOrg.set(org, bulk);
    }
    return bulk;
  }

  close(): void {
    for (const bulk of this.perOrg.values()) bulk.close();
  }

  router(): Router {
    const bulk = (res: Response): Bulk2 => this.of(requestOrg(res));
    const router = express.Router({ mergeParams: true });
    const csvBody = express.text({ type: ['text/csv', 'text/plain'], limit: '150mb' });

    router.post('/jobs/query', (req, res) =>
      res.status(200).json(bulk(res).queryInfo(bulk(res).createQuery(req, res))),
    );
    router.get('/jobs/query', (_req, res) => res.json(bulk(res).list('query')));
    router.get('/jobs/query/:id', (req, res) =>
      res.json(bulk(res).queryInfo(bulk(res).queryJob(req))),
    );
    router.get('/jobs/query/:id/results', (req, res) => bulk(res).results(req, res));
    router.patch('/jobs/query/:id', (req, res) => {
      const job = bulk(res).queryJob(req);
      bulk(res).abort(job, req);
      res.json(bulk(res).queryInfo(job));
    });
    router.delete('/jobs/query/:id', (req, res) => {
      bulk(res).remove(bulk(res).queryJob(req));
      res.status(204).end();
    });

    router.post('/jobs/ingest', (req, res) =>
      res.status(200).json(bulk(res).ingestInfo(bulk(res).createIngest(req, res))),
    );
    router.get('/jobs/ingest', (_req, res) => res.json(bulk(res).list('ingest')));
    router.get('/jobs/ingest/:id', (req, res) =>
      res.json(bulk(res).ingestInfo(bulk(res).ingestJob(req))),
    );
    router.put('/jobs/ingest/:id/batches', csvBody, (req, res) => {
      const job = bulk(res).ingestJob(req);
      if (job.state !== 'Open')
        throw bulkError(409, 'INVALIDJOBSTATE', `Job ${job.id} is not Open: ${job.state}`);
      if (typeof req.body !== 'string')
        throw bulkError(400, 'INVALIDBATCH', 'The request body must be text/csv');
      job.uploads.push(req.body);
      res.status(201).end();
    });
    router.patch('/jobs/ingest/:id', (req, res) => {
      const job = bulk(res).ingestJob(req);
      const state = (req.body as { state?: unknown } | undefined)?.state;
      if (state === 'UploadComplete') {
        if (job.state !== 'Open')
          throw bulkError(409, 'INVALIDJOBSTATE', `Job ${job.id} is not Open: ${job.state}`);
        job.state = 'UploadComplete';
        bulk(res).schedule(job);
      } else {
        bulk(res).abort(job, req);
      }
      res.json(bulk(res).ingestInfo(job));
    });
    router.delete('/jobs/ingest/:id', (req, res) => {
      bulk(res).remove(bulk(res).ingestJob(req));
      res.status(204).end();
    });
    const results =
      (pick: (j: IngestJob) => string[][], lead: string[]) => (req: Request, res: Response) => {
        const job = bulk(res).ingestJob(req);
        res.type('text/csv').send(toCsv([[...lead, ...job.header], ...pick(job)], job.format));
      };
    router.get(
      '/jobs/ingest/:id/successfulResults',
      results((j) => j.successful, ['sf__Id', 'sf__Created']),
    );
    router.get(
      '/jobs/ingest/:id/failedResults',
      results((j) => j.failed, ['sf__Id', 'sf__Error']),
    );
    router.get(
      '/jobs/ingest/:id/unprocessedrecords',
      results((j) => j.unprocessed, []),
    );
    return router;
  }
}

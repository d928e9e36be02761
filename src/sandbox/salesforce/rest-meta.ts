import express from 'express';
import type { Router } from 'express';
import { callContext, requestOrg } from './rest-context';

/** Developer Edition figures for the allocations the sandbox does not track. */
const DELIVERED_EVENTS_MAX = 10_000;
const BULK_QUERY_JOBS_MAX = 10_000;

/** `/limits` and the version root resource list. */
export function metaRouter(): Router {
  const router = express.Router({ mergeParams: true });

  router.get('/', (_req, res) => {
    const v = `/services/data/v${callContext(res).apiVersion}`;
    res.json({
      sobjects: `${v}/sobjects`,
      query: `${v}/query`,
      queryAll: `${v}/queryAll`,
      composite: `${v}/composite`,
      limits: `${v}/limits`,
      jobs: `${v}/jobs`,
      identity: requestOrg(res).identityUrl(),
    });
  });

  // The call itself has been counted already, so Remaining includes it (as in Salesforce).
  router.get('/limits', (_req, res) => {
    const u = requestOrg(res).usage;
    res.json({
      DailyApiRequests: { Max: u.max, Remaining: u.remaining() },
      DailyBulkApiBatches: { Max: 15_000, Remaining: 15_000 },
      DailyBulkV2QueryFileStorageMB: { Max: 976_562, Remaining: 976_562 },
      DailyBulkV2QueryJobs: {
        Max: BULK_QUERY_JOBS_MAX,
        Remaining: Math.max(0, BULK_QUERY_JOBS_MAX - u.bulkQueryJobsUsed()),
      },
      DailyDeliveredPlatformEvents: { Max: DELIVERED_EVENTS_MAX, Remaining: DELIVERED_EVENTS_MAX },
      DataStorageMB: { Max: 5, Remaining: 5 },
    });
  });

  return router;
}

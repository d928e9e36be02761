/**
 * The heap limit README ("Memory") and docker-compose.yml give a connector on Kafka and Redis.
 * The benches measure the connector as deployed, so they run it under the same limit (the
 * embedded `--memory` mode, which keeps every pair's state in the heap, runs without it, as
 * deployed).
 */
export const DEPLOYED_HEAP_FLAG = '--max-old-space-size=256';

/**
 * The allocator setting README and docker-compose.yml give the same process (glibc): buffers
 * above 128 KB (Kafka fetch responses, HTTP bodies) mapped and unmapped on their own instead
 * of glibc raising that threshold after each one freed, which keeps freed megabytes in its
 * arenas (40-50 MB of a full sync's peak RSS). Kept when already set.
 */
export const DEPLOYED_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

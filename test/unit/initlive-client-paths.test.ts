import { createInitLiveClient } from '../../src/infra/initlive';

/** Every InitLive URL the client builds from an id encodes it: an id can never change the path. */
describe('InitLive client paths', () => {
  it('encodes organization, staff and webhook ids in every path', async () => {
    const seen: string[] = [];
    const fetchStub = (async (input: string | URL | Request) => {
      seen.push(new URL(input instanceof Request ? input.url : input).pathname);
      return new Response(JSON.stringify({ error: { code: 'not_found', message: 'no' } }), {
        status: 404,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    const client = createInitLiveClient({
      baseUrl: 'http://initlive.test',
      apiKey: 'k',
      orgId: 'org/../x?',
      changeOrigin: 'o',
      fetch: fetchStub,
      retryPolicy: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1, factor: 1, jitter: 0 },
    });
    await client.getStaff('../../admin?x=#y').catch(() => undefined);
    await client.unregisterWebhook('w/../1').catch(() => undefined);
    expect(seen).toEqual([
      '/api/v1/organizations/org%2F..%2Fx%3F/staff/..%2F..%2Fadmin%3Fx%3D%23y',
      '/api/v1/organizations/org%2F..%2Fx%3F/webhooks/w%2F..%2F1',
    ]);
  });
});

import { QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { updateFresh } from './cache';

type Feed = { items: string[] };

describe('updateFresh', () => {
  it('a change made while an older fetch is in flight survives that fetch', async () => {
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const key = ['posts', 'ws_1'];
    client.setQueryData<Feed>(key, { items: ['p_1'] });
    // The server's state: the first answer was computed before p_2 existed.
    const answers: Feed[] = [{ items: ['p_1'] }, { items: ['p_2', 'p_1'] }];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const queryFn = async () => {
      const answer = answers[Math.min(calls, answers.length - 1)];
      calls += 1;
      if (calls === 1) await gate;
      return answer;
    };
    // A page shows the feed (an active query) and starts reloading it.
    const observer = new QueryObserver<Feed>(client, { queryKey: key, queryFn, staleTime: Infinity });
    const stop = observer.subscribe(() => undefined);
    const first = observer.refetch();

    // The new post arrives (pushed, or answered to a POST) while that reload is in flight.
    updateFresh<Feed>(client, key, (d) => (d ? { items: ['p_2', ...d.items] } : d));
    release();
    await first;
    await client.getQueryCache().find({ queryKey: key })?.promise;
    stop();

    expect(client.getQueryData<Feed>(key)).toEqual({ items: ['p_2', 'p_1'] });
    expect(calls).toBe(2);
  });

  it('changes nothing else when no fetch is in flight', () => {
    const client = new QueryClient();
    const key = ['posts', 'ws_1'];
    client.setQueryData<Feed>(key, { items: ['p_1'] });
    updateFresh<Feed>(client, key, (d) => (d ? { items: ['p_2', ...d.items] } : d));
    expect(client.getQueryData<Feed>(key)).toEqual({ items: ['p_2', 'p_1'] });
    expect(client.isFetching()).toBe(0);
  });
});

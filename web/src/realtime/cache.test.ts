import { QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { keys } from '../api/keys';
import { unreadCountsQuery } from '../api/hooks';
import type { Notification, Preferences, QuietHours, UnreadCounts, WorkspaceConfigView } from '../api/types';
import { SeenEvents } from './applyEvent';
import { applyEnvelope, updateFresh } from './cache';

const ON = { toast: true, inbox: true, cli: true };
const ALL_ON = { missions: ON, workstations: ON, community: ON, system: ON };
import { envelope } from './testEnvelope';

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

describe('unread counts', () => {
  const counts = (countsVersion: number, total: number): UnreadCounts => ({
    countsVersion,
    total,
    byCategory: { missions: 0, workstations: total, community: 0, system: 0 },
  });

  it('a reload answered before a pushed notification does not put the older counts back', async () => {
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    // The server answered the reload before the notification existed.
    const queryFn = async () => {
      calls += 1;
      if (calls === 2) await gate;
      return counts(7, 0);
    };
    const observer = new QueryObserver<UnreadCounts>(client, { ...unreadCountsQuery, queryFn, staleTime: Infinity });
    const stop = observer.subscribe(() => undefined);
    await observer.refetch();
    // The channel was (re)subscribed: the counts reload, and meanwhile the push lands.
    const reload = observer.refetch();
    const notification = { id: 'n_1', category: 'workstations', readAt: null } as unknown as Notification;
    applyEnvelope(
      client,
      new SeenEvents(),
      envelope('notification.created', { kind: 'notification', id: 'n_1' }, 1, {
        userId: 'u_1',
        notification,
        unread: counts(8, 1),
      }),
    );
    expect(client.getQueryData<UnreadCounts>(keys.unreadCount)?.total).toBe(1);
    release();
    await reload;
    stop();

    expect(client.getQueryData<UnreadCounts>(keys.unreadCount)).toEqual(counts(8, 1));
  });
});

describe('config.updated', () => {
  const quiet: QuietHours = { enabled: true, start: '22:00', end: '07:00', timezone: 'UTC', allowUrgent: false };
  const event = (version: number) =>
    envelope('config.updated', { kind: 'workspace_config', id: 'ws_1' }, version, {
      workspaceId: 'ws_1',
      config: { defaultQuietHours: quiet },
    });

  function cached(prefsVersion: number) {
    const client = new QueryClient();
    client.setQueryData<WorkspaceConfigView>(keys.workspaceConfig('ws_1'), {
      workspaceId: 'ws_1',
      config: { defaultQuietHours: null },
      version: 1,
    });
    client.setQueryData<Preferences>(keys.preferences, {
      quietHours: { ...quiet, enabled: false },
      version: prefsVersion,
      quietHoursSet: prefsVersion > 0,
      missionRules: {},
      surfaces: ALL_ON,
    });
    return client;
  }

  it('replaces the workspace’s settings and has someone without their own read their quiet hours again', () => {
    const client = cached(0);
    expect(applyEnvelope(client, new SeenEvents(), event(2))).toBe(true);
    expect(client.getQueryData<WorkspaceConfigView>(keys.workspaceConfig('ws_1'))?.config.defaultQuietHours).toEqual(quiet);
    expect(client.getQueryState(keys.preferences)?.isInvalidated).toBe(true);
  });

  it('leaves the quiet hours of someone with their own alone', () => {
    const client = cached(3);
    applyEnvelope(client, new SeenEvents(), event(2));
    expect(client.getQueryData<WorkspaceConfigView>(keys.workspaceConfig('ws_1'))?.version).toBe(2);
    expect(client.getQueryState(keys.preferences)?.isInvalidated).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type {
  Mission,
  MissionList,
  Notification,
  UnreadCounts,
  Workstation,
  WorkstationDetail,
  WorkstationList,
} from '../api/types';
import {
  applyMissionEvent,
  applyNotification,
  applyNotificationEvent,
  applyPeople,
  shownIn,
  applyUnreadCounts,
  applyWorkstationDetailEvent,
  applyWorkstationEvent,
  missionListMisses,
  peopleOf,
  SeenEvents,
  summarizeWorkstations,
  unreadOf,
  upsertMission,
  type InboxFilter,
  type NotificationPages,
} from './applyEvent';
import { envelope } from './testEnvelope';


function mission(overrides: Partial<Mission> = {}): Mission {
  return {
    id: 'm_1',
    title: 'Ship it',
    stage: 'build',
    version: 3,
    workspaceId: 'ws_1',
    ownerId: 'u_1',
    createdAt: '2026-11-26T09:00:00.000Z',
    updatedAt: '2026-11-26T09:30:00.000Z',
    ...overrides,
  };
}

function stageChanged(version: number, from: Mission['stage'], to: Mission['stage'], id = 'm_1') {
  return envelope('mission.stage_changed', { kind: 'mission', id }, version, {
    workspaceId: 'ws_1',
    title: 'Ship it',
    from,
    to,
  });
}

function counts(countsVersion: number, total: number): UnreadCounts {
  return {
    total,
    byCategory: { missions: total, workstations: 0, community: 0, system: 0 },
    countsVersion,
  };
}

function note(id: string, createdAt: string, overrides: Partial<Notification> = {}): Notification {
  return {
    id,
    userId: 'u_1',
    category: 'missions',
    type: 'mission.stage_changed',
    title: `Notification ${id}`,
    body: null,
    link: null,
    severity: 'info',
    quiet: false,
    version: 1,
    sourceEventId: null,
    createdAt,
    readAt: null,
    snoozedUntil: null,
    doneAt: null,
    updates: 0,
    updatedAt: null,
    ...overrides,
  };
}

function pages(...items: Notification[][]): NotificationPages {
  return {
    pages: items.map((page, i) => ({ items: page, nextCursor: i < items.length - 1 ? `c${i}` : null, unreadCount: 0 })),
    pageParams: items.map((_, i) => (i === 0 ? null : `c${i - 1}`)),
  };
}

const ALL: InboxFilter = { category: null, unreadOnly: false };

describe('SeenEvents', () => {
  it('ignores a repeated event id', () => {
    const seen = new SeenEvents();
    expect(seen.add('evt-a')).toBe(true);
    expect(seen.add('evt-a')).toBe(false);
    expect(seen.add('evt-b')).toBe(true);
  });

  it('forgets the oldest ids past its limit', () => {
    const seen = new SeenEvents(2);
    seen.add('a');
    seen.add('b');
    seen.add('c');
    expect(seen.size).toBe(2);
    expect(seen.has('a')).toBe(false);
    expect(seen.has('c')).toBe(true);
  });
});

describe('missions', () => {
  const list: MissionList = { items: [mission(), mission({ id: 'm_2', stage: 'backlog', version: 1 })], nextCursor: null };

  it('moves a mission to its new stage', () => {
    const next = applyMissionEvent(list, stageChanged(4, 'build', 'review'));
    expect(next?.items.find((m) => m.id === 'm_1')).toMatchObject({ stage: 'review', version: 4 });
    expect(next?.items.find((m) => m.id === 'm_2')).toBe(list.items[1]);
  });

  it('ignores an event whose version is not newer', () => {
    expect(applyMissionEvent(list, stageChanged(3, 'spec', 'build'))).toBe(list);
    expect(applyMissionEvent(list, stageChanged(2, 'backlog', 'spec'))).toBe(list);
  });

  it('applying the same event twice changes nothing the second time', () => {
    const event = stageChanged(4, 'build', 'review');
    const once = applyMissionEvent(list, event);
    expect(applyMissionEvent(once, event)).toBe(once);
  });

  it('adds a created mission once', () => {
    const created = envelope('mission.created', { kind: 'mission', id: 'm_3' }, 1, {
      workspaceId: 'ws_1',
      title: 'New one',
      stage: 'backlog',
      ownerId: 'u_2',
    });
    const next = applyMissionEvent(list, created);
    expect(next?.items).toHaveLength(3);
    expect(next?.items[2]).toMatchObject({ id: 'm_3', title: 'New one', stage: 'backlog', version: 1 });
    expect(applyMissionEvent(next, created)).toBe(next);
  });

  it('bumps the version on reviews without moving the mission', () => {
    const review = envelope('review.decided', { kind: 'mission', id: 'm_1' }, 4, {
      workspaceId: 'ws_1',
      reviewId: 'r_1',
      reviewerId: 'u_2',
      decision: 'approved',
    });
    const next = applyMissionEvent(list, review);
    expect(next?.items[0]).toMatchObject({ stage: 'build', version: 4 });
  });

  it('keeps a newer cached mission over an older API answer', () => {
    expect(upsertMission(list, mission({ version: 2, stage: 'spec' }))).toBe(list);
    expect(upsertMission(list, mission({ version: 5, stage: 'done' }))?.items[0].stage).toBe('done');
  });

  it('tells when an event is about a mission it does not hold', () => {
    expect(missionListMisses(list, stageChanged(2, 'backlog', 'spec', 'm_9'))).toBe(true);
    expect(missionListMisses(list, stageChanged(5, 'build', 'review'))).toBe(false);
  });

  it('leaves data it does not hold alone', () => {
    expect(applyMissionEvent(undefined, stageChanged(9, 'build', 'review'))).toBeUndefined();
  });
});

describe('workstations', () => {
  const station: Workstation = {
    id: 'wk_1',
    name: 'Studio',
    status: 'online',
    workspaceId: 'ws_1',
    ownerId: 'u_1',
    version: 10,
    lastHeartbeatAt: '2026-11-26T09:59:00.000Z',
    createdAt: '2026-11-20T00:00:00.000Z',
    agents: [
      { id: 'a1', name: 'Ada', status: 'idle', missionId: null, version: 2, updatedAt: '2026-11-26T09:00:00.000Z' },
    ],
  };
  const list: WorkstationList = { items: [station] };

  function agentChanged(version: number, to: 'idle' | 'working' | 'waiting_review' | 'error', missionId?: string) {
    return envelope('agent.status_changed', { kind: 'agent', id: 'wk_1/a1' }, version, {
      workspaceId: 'ws_1',
      workstationId: 'wk_1',
      agentId: 'a1',
      name: 'Ada',
      from: 'idle',
      to,
      missionId,
    });
  }

  it('changes an agent by its own version', () => {
    const next = applyWorkstationEvent(list, agentChanged(3, 'working', 'm_1'));
    expect(next?.items[0].agents[0]).toMatchObject({ status: 'working', missionId: 'm_1', version: 3 });
    expect(applyWorkstationEvent(next, agentChanged(3, 'error'))).toBe(next);
    expect(applyWorkstationEvent(next, agentChanged(2, 'error'))).toBe(next);
  });

  it('changes the status on a newer status change only', () => {
    const change = (version: number, to: 'online' | 'degraded' | 'offline') =>
      envelope('workstation.status_changed', { kind: 'workstation', id: 'wk_1' }, version, {
        workspaceId: 'ws_1',
        workstationId: 'wk_1',
        name: 'Studio',
        from: 'online',
        to,
      });
    expect(applyWorkstationEvent(list, change(10, 'offline'))).toBe(list);
    expect(applyWorkstationEvent(list, change(11, 'degraded'))?.items[0].status).toBe('degraded');
  });

  it('a heartbeat refreshes the console and adds to its recent events, but never undoes an agent change', () => {
    const detail: WorkstationDetail = { ...station, recentEvents: [] };
    const working = applyWorkstationDetailEvent(detail, agentChanged(3, 'working'));
    const beat = envelope(
      'workstation.heartbeat',
      { kind: 'workstation', id: 'wk_1' },
      11,
      {
        workspaceId: 'ws_1',
        status: 'online',
        agents: [
          { id: 'a1', name: 'Ada', status: 'idle' },
          { id: 'a2', name: 'Bob', status: 'working', missionId: 'm_1' },
        ],
      },
      '2026-11-26T10:00:05.000Z',
    );
    const next = applyWorkstationDetailEvent(working, beat);
    expect(next?.lastHeartbeatAt).toBe('2026-11-26T10:00:05.000Z');
    expect(next?.version).toBe(11);
    expect(next?.agents.map((a) => [a.id, a.status])).toEqual([
      ['a1', 'working'],
      ['a2', 'working'],
    ]);
    expect(next?.recentEvents[0].id).toBe(beat.id);
    expect(applyWorkstationDetailEvent(next, beat)).toBe(next);
  });

  it('counts what is online for the launchpad', () => {
    const offline: Workstation = { ...station, id: 'wk_2', status: 'offline' };
    const summary = summarizeWorkstations([station, offline], 'ws_1');
    expect(summary.workstations).toEqual({ total: 2, online: 1, degraded: 0, offline: 1 });
    expect(summary.agents.total).toBe(1);
  });
});

describe('notifications', () => {
  const older = note('n_1', '2026-11-26T09:00:00.000Z');
  const newest = note('n_2', '2026-11-26T09:30:00.000Z', { category: 'community' });

  function created(n: Notification, unread: UnreadCounts) {
    return envelope('notification.created', { kind: 'notification', id: n.id }, n.version, {
      userId: 'u_1',
      notification: n,
      unread,
    });
  }

  it('notification.created prepends the notification and carries the new counts', () => {
    const data = pages([newest, older]);
    const fresh = note('n_3', '2026-11-26T10:00:00.000Z');
    const event = created(fresh, counts(8, 3));
    const next = applyNotificationEvent(data, event, ALL);
    expect(next?.pages[0].items.map((n) => n.id)).toEqual(['n_3', 'n_2', 'n_1']);
    expect(applyNotificationEvent(next, event, ALL)).toBe(next);

    const update = applyUnreadCounts(counts(7, 2), unreadOf(event)!);
    expect(update).toEqual({ counts: counts(8, 3), gap: false });
  });

  it('a created notification of another category stays out of a category view', () => {
    const data = pages([older]);
    const filter: InboxFilter = { category: 'missions', unreadOnly: false };
    expect(applyNotificationEvent(data, created(note('n_4', '2026-11-26T10:00:00.000Z', { category: 'system' }), counts(2, 1)), filter)).toBe(data);
  });

  it('read and unread replace the notification when newer', () => {
    const data = pages([newest, older]);
    const readAt = '2026-11-26T10:01:00.000Z';
    const read = envelope('notification.read', { kind: 'notification', id: 'n_1' }, 2, {
      userId: 'u_1',
      notification: { ...older, version: 2, readAt },
      unread: counts(9, 1),
    });
    const afterRead = applyNotificationEvent(data, read, ALL);
    expect(afterRead?.pages[0].items[1]).toMatchObject({ id: 'n_1', readAt, version: 2 });

    const unread = envelope('notification.unread', { kind: 'notification', id: 'n_1' }, 3, {
      userId: 'u_1',
      notification: { ...older, version: 3, readAt: null },
      unread: counts(10, 2),
    });
    const afterUnread = applyNotificationEvent(afterRead, unread, ALL);
    expect(afterUnread?.pages[0].items[1]).toMatchObject({ readAt: null, version: 3 });

    // The read event delivered late (older version) changes nothing.
    expect(applyNotificationEvent(afterUnread, read, ALL)).toBe(afterUnread);
    // An answer of the API older than the cache is ignored too.
    expect(applyNotification(afterUnread, { ...older, version: 2, readAt }, ALL)).toBe(afterUnread);
  });

  it('snoozed and done leave the inbox view and join theirs; woken and undone come back', () => {
    const data = pages([newest, older]);
    const snoozedUntil = '2026-11-26T12:00:00.000Z';
    const change = (type: 'notification.snoozed' | 'notification.woke' | 'notification.done' | 'notification.undone', n: Notification) =>
      envelope(type, { kind: 'notification', id: n.id }, n.version, { userId: 'u_1', notification: n, unread: counts(20 + n.version, 1) });
    const ids = (d: NotificationPages | undefined, filter: InboxFilter) => shownIn(d, filter).map((n) => n.id);
    const snoozedView: InboxFilter = { ...ALL, view: 'snoozed' };

    const snoozed = { ...older, version: 2, readAt: '2026-11-26T10:00:00.000Z', snoozedUntil };
    const inbox = applyNotificationEvent(data, change('notification.snoozed', snoozed), ALL);
    expect(ids(inbox, ALL)).toEqual(['n_2']);
    const shown = applyNotificationEvent(pages([]), change('notification.snoozed', snoozed), snoozedView);
    expect(ids(shown, snoozedView)).toEqual(['n_1']);

    const woken = { ...snoozed, version: 3, readAt: null, snoozedUntil: null };
    expect(ids(applyNotificationEvent(shown, change('notification.woke', woken), snoozedView), snoozedView)).toEqual([]);
    const back = applyNotificationEvent(inbox, change('notification.woke', woken), ALL);
    expect(shownIn(back, ALL).map((n) => [n.id, n.readAt])).toEqual([['n_2', null], ['n_1', null]]);

    const done = { ...woken, version: 4, readAt: '2026-11-26T10:05:00.000Z', doneAt: '2026-11-26T10:05:00.000Z' };
    const afterDone = applyNotificationEvent(back, change('notification.done', done), ALL);
    expect(ids(afterDone, ALL)).toEqual(['n_2']);
    // Late: the older woke event does not bring it back.
    expect(applyNotificationEvent(afterDone, change('notification.woke', woken), ALL)).toBe(afterDone);
    const undone = { ...done, version: 5, doneAt: null };
    expect(ids(applyNotificationEvent(afterDone, change('notification.undone', undone), ALL), ALL)).toEqual(['n_2', 'n_1']);
  });

  it('an updated notification replaces the one held, in place', () => {
    const data = pages([newest, older]);
    const replaced = { ...older, version: 2, title: 'moved to review', updates: 1, updatedAt: '2026-11-26T10:00:00.000Z' };
    const event = envelope('notification.updated', { kind: 'notification', id: 'n_1' }, 2, { userId: 'u_1', notification: replaced, unread: counts(9, 2) });
    const next = applyNotificationEvent(data, event, ALL);
    expect(next?.pages[0].items.map((n) => [n.id, n.title, n.updates])).toEqual([['n_2', newest.title, 0], ['n_1', 'moved to review', 1]]);
    expect(applyNotificationEvent(next, event, ALL)).toBe(next);
  });

  it('read_all marks read the items up to the watermark only', () => {
    const later = note('n_5', '2026-11-26T10:00:00.000Z');
    const alreadyRead = note('n_0', '2026-11-26T08:00:00.000Z', { readAt: '2026-11-26T08:05:00.000Z' });
    const data = pages([later, newest], [older, alreadyRead]);
    const event = envelope(
      'notifications.read_all',
      { kind: 'inbox', id: 'u_1' },
      12,
      { userId: 'u_1', category: null, watermark: newest.createdAt, marked: 2, unread: counts(12, 1) },
      '2026-11-26T10:02:00.000Z',
    );
    const next = applyNotificationEvent(data, event, ALL);
    const byId = new Map(next!.pages.flatMap((p) => p.items).map((n) => [n.id, n.readAt]));
    expect(byId.get('n_5')).toBeNull();
    expect(byId.get('n_2')).toBe('2026-11-26T10:02:00.000Z');
    expect(byId.get('n_1')).toBe('2026-11-26T10:02:00.000Z');
    expect(byId.get('n_0')).toBe('2026-11-26T08:05:00.000Z');
    expect(next!.pages[1].nextCursor).toBeNull();
    expect(applyNotificationEvent(next, event, ALL)).toBe(next);
  });

  it('read_all of one category leaves the others unread', () => {
    const data = pages([newest, older]);
    const event = envelope('notifications.read_all', { kind: 'inbox', id: 'u_1' }, 5, {
      userId: 'u_1',
      category: 'missions',
      watermark: '2026-11-26T10:00:00.000Z',
      marked: 1,
      unread: counts(5, 1),
    });
    const next = applyNotificationEvent(data, event, ALL);
    expect(next?.pages[0].items.map((n) => n.readAt === null)).toEqual([true, false]);
  });
});

describe('unread counts', () => {
  it('takes the next version', () => {
    expect(applyUnreadCounts(counts(4, 1), counts(5, 2))).toEqual({ counts: counts(5, 2), gap: false });
  });

  it('ignores counts that are not newer', () => {
    const held = counts(5, 2);
    expect(applyUnreadCounts(held, counts(5, 9))).toEqual({ counts: held, gap: false });
    expect(applyUnreadCounts(held, counts(3, 0))).toEqual({ counts: held, gap: false });
  });

  it('detects a skipped countsVersion', () => {
    expect(applyUnreadCounts(counts(5, 2), counts(7, 4))).toEqual({ counts: counts(7, 4), gap: true });
  });

  it('takes the first counts it sees', () => {
    expect(applyUnreadCounts(undefined, counts(3, 1))).toEqual({ counts: counts(3, 1), gap: false });
  });
});

describe('people online', () => {
  it('counts users, not tabs', () => {
    const clients = new Map([
      ['c1', { id: 'u_2', name: 'bob' }],
      ['c2', { id: 'u_1', name: 'ada' }],
      ['c3', { id: 'u_2', name: 'bob' }],
    ]);
    const people = peopleOf(clients);
    expect(people).toEqual({ online: 2, users: [{ id: 'u_1', name: 'ada' }, { id: 'u_2', name: 'bob' }] });
    const list = {
      items: [
        {
          workspaceId: 'ws_1',
          workstations: { total: 0, online: 0, degraded: 0, offline: 0 },
          agents: { total: 0, idle: 0, working: 0, waitingReview: 0, error: 0 },
          people: { online: 0, users: [] },
        },
      ],
    };
    const next = applyPeople(list, 'ws_1', people);
    expect(next?.items[0].people.online).toBe(2);
    expect(applyPeople(next, 'ws_1', peopleOf(clients))).toBe(next);
  });
});

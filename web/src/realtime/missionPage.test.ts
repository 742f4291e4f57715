import { describe, expect, it } from 'vitest';
import type { MissionDetail, MissionTimeline, Post, PostList } from '../api/types';
import {
  applyCommunityEvent,
  applyMissionDetailEvent,
  applyTimelineEvent,
  applyWatching,
  fallbacksOf,
  missionIdsOf,
  TIMELINE_LIMIT,
  upsertMissionDetail,
  upsertPost,
} from './applyEvent';
import { envelope } from './testEnvelope';


function detail(overrides: Partial<MissionDetail> = {}): MissionDetail {
  return {
    id: 'm_1',
    title: 'Ship it',
    stage: 'build',
    version: 3,
    workspaceId: 'ws_1',
    ownerId: 'u_1',
    createdAt: '2026-11-26T09:00:00.000Z',
    updatedAt: '2026-11-26T09:30:00.000Z',
    watcherIds: ['u_1'],
    reviews: [],
    ...overrides,
  };
}

const stageChanged = (version: number, id = 'm_1', ts?: string) =>
  envelope('mission.stage_changed', { kind: 'mission', id }, version, { workspaceId: 'ws_1', title: 'Ship it now', from: 'build', to: 'review' }, ts);

const reviewDecided = (version: number, reviewId = 'r_1') =>
  envelope('review.decided', { kind: 'mission', id: 'm_1' }, version, {
    workspaceId: 'ws_1',
    reviewId,
    reviewerId: 'u_2',
    decision: 'changes_requested',
    comment: 'Add tests',
  });

const fallbackGenerated = (version: number, fallbackId = 'f_1', ts?: string) =>
  envelope(
    'fallback.generated',
    { kind: 'mission', id: 'm_1' },
    version,
    { workspaceId: 'ws_1', fallbackId, reason: 'agent crashed', summary: 'retry on kiln' },
    ts,
  );

const agentOn = (missionId: string | null, ts?: string) =>
  envelope(
    'agent.status_changed',
    { kind: 'agent', id: 'builder' },
    2,
    { workspaceId: 'ws_1', workstationId: 'wk_1', agentId: 'builder', name: 'Builder', from: 'idle', to: 'working', missionId },
    ts,
  );

describe('mission page: detail', () => {
  it('moves the mission on a newer stage change, and ignores an older one', () => {
    const moved = applyMissionDetailEvent(detail(), stageChanged(4));
    expect(moved).toMatchObject({ stage: 'review', title: 'Ship it now', version: 4 });
    expect(applyMissionDetailEvent(moved, stageChanged(4))).toBe(moved);
    expect(applyMissionDetailEvent(moved, stageChanged(2))).toBe(moved);
  });

  it('adds a decided review once, with its comment', () => {
    const held = detail();
    const next = applyMissionDetailEvent(held, reviewDecided(4));
    expect(next?.reviews).toEqual([
      { id: 'r_1', missionId: 'm_1', reviewerId: 'u_2', decision: 'changes_requested', comment: 'Add tests', createdAt: '2026-11-26T10:00:00.000Z' },
    ]);
    expect(next?.version).toBe(4);
    // The same review again (the API answer got there first, then the push).
    const withAnswer = upsertMissionDetail(held, { ...held, version: 4 }, next!.reviews[0]);
    expect(applyMissionDetailEvent(withAnswer, reviewDecided(5, 'r_1'))?.reviews).toHaveLength(1);
  });

  it('leaves another mission alone', () => {
    const held = detail();
    expect(applyMissionDetailEvent(held, stageChanged(9, 'm_2'))).toBe(held);
    expect(applyMissionDetailEvent(undefined, stageChanged(9))).toBeUndefined();
  });

  it('keeps a newer detail over an older API answer', () => {
    const held = detail({ version: 5, stage: 'done' });
    expect(upsertMissionDetail(held, { ...held, version: 4, stage: 'build' })).toBe(held);
    expect(upsertMissionDetail(held, { ...held, version: 6, stage: 'review' })).toMatchObject({ version: 6, stage: 'review' });
  });

  it('adds and removes the user among the watchers', () => {
    const held = detail({ watcherIds: ['u_1'] });
    const watching = applyWatching(held, 'u_2', true);
    expect(watching?.watcherIds).toEqual(['u_1', 'u_2']);
    expect(applyWatching(watching, 'u_2', true)).toBe(watching);
    expect(applyWatching(watching, 'u_2', false)?.watcherIds).toEqual(['u_1']);
  });
});

describe('mission page: timeline', () => {
  const empty = (): MissionTimeline => ({ missionId: 'm_1', events: [] });

  it('tells which missions an event is about', () => {
    expect(missionIdsOf(stageChanged(2, 'm_7'))).toEqual(['m_7']);
    expect(missionIdsOf(agentOn('m_3'))).toEqual(['m_3']);
    expect(missionIdsOf(agentOn(null))).toEqual([]);
  });

  it('adds the mission’s events once, in time order', () => {
    const late = stageChanged(5, 'm_1', '2026-11-26T10:05:00.000Z');
    const early = fallbackGenerated(4, 'f_1', '2026-11-26T10:01:00.000Z');
    let timeline = applyTimelineEvent(empty(), late);
    timeline = applyTimelineEvent(timeline, early);
    timeline = applyTimelineEvent(timeline, agentOn('m_1', '2026-11-26T10:09:00.000Z'));
    expect(timeline?.events.map((e) => e.type)).toEqual(['fallback.generated', 'mission.stage_changed', 'agent.status_changed']);
    expect(applyTimelineEvent(timeline, late)).toBe(timeline);
  });

  it('ignores events about other missions', () => {
    const timeline = empty();
    expect(applyTimelineEvent(timeline, stageChanged(2, 'm_2'))).toBe(timeline);
    expect(applyTimelineEvent(timeline, agentOn('m_2'))).toBe(timeline);
  });

  it('keeps only the latest events', () => {
    let timeline: MissionTimeline | undefined = empty();
    for (let i = 0; i < TIMELINE_LIMIT + 3; i++) timeline = applyTimelineEvent(timeline, stageChanged(i + 1));
    expect(timeline?.events).toHaveLength(TIMELINE_LIMIT);
    expect(timeline?.events.at(-1)?.version).toBe(TIMELINE_LIMIT + 3);
  });

  it('lists the fallbacks from the timeline, once each', () => {
    const a = fallbackGenerated(4, 'f_1', '2026-11-26T10:01:00.000Z');
    const fallbacks = fallbacksOf([stageChanged(3), a, { ...a, id: 'evt-copy' }, fallbackGenerated(6, 'f_2')]);
    expect(fallbacks.map((f) => f.id)).toEqual(['f_1', 'f_2']);
    expect(fallbacks[0]).toEqual({
      id: 'f_1',
      missionId: 'm_1',
      reason: 'agent crashed',
      summary: 'retry on kiln',
      createdBy: 'u_1',
      createdAt: '2026-11-26T10:01:00.000Z',
    });
  });
});

describe('community feed', () => {
  const post = (id: string, createdAt: string): Post => ({
    id,
    workspaceId: 'ws_1',
    authorId: 'u_1',
    body: `post ${id}`,
    mentions: [],
    createdAt,
  });
  const feed = (): PostList => ({ items: [post('p_2', '2026-11-26T10:02:00.000Z'), post('p_1', '2026-11-26T10:01:00.000Z')] });
  const posted = (postId: string, workspaceId = 'ws_1', ts = '2026-11-26T10:03:00.000Z') =>
    envelope('community.posted', { kind: 'post', id: postId }, 1, { workspaceId, postId, authorId: 'u_2', body: 'hi @ada', mentions: ['u_1'] }, ts);

  it('community.posted puts the new post first', () => {
    const next = applyCommunityEvent(feed(), 'ws_1', posted('p_3'));
    expect(next?.items.map((p) => p.id)).toEqual(['p_3', 'p_2', 'p_1']);
    expect(next?.items[0]).toEqual({
      id: 'p_3',
      workspaceId: 'ws_1',
      authorId: 'u_2',
      body: 'hi @ada',
      mentions: ['u_1'],
      createdAt: '2026-11-26T10:03:00.000Z',
    });
  });

  it('applies a post once, whether it came from the API or a push', () => {
    const held = feed();
    expect(applyCommunityEvent(held, 'ws_1', posted('p_2'))).toBe(held);
    const mine = upsertPost(held, post('p_3', '2026-11-26T10:03:00.000Z'));
    expect(applyCommunityEvent(mine, 'ws_1', posted('p_3'))).toBe(mine);
  });

  it('leaves the feed of another workspace, and other events, alone', () => {
    const held = feed();
    expect(applyCommunityEvent(held, 'ws_1', posted('p_9', 'ws_2'))).toBe(held);
    expect(applyCommunityEvent(held, 'ws_1', stageChanged(2))).toBe(held);
    expect(applyCommunityEvent(undefined, 'ws_1', posted('p_9'))).toBeUndefined();
  });

  it('puts a late-arriving older post in its place', () => {
    const next = applyCommunityEvent(feed(), 'ws_1', posted('p_0', 'ws_1', '2026-11-26T10:01:30.000Z'));
    expect(next?.items.map((p) => p.id)).toEqual(['p_2', 'p_0', 'p_1']);
  });
});

import { describe, expect, it } from 'vitest';
import type { Mission, MissionList } from '../api/types';
import { applyMissionEvent, missionListMisses } from './applyEvent';
import { appendMissionPage, hasMoreMissions } from './missionPages';
import { envelope } from './testEnvelope';

function mission(n: number): Mission {
  return {
    id: `m_${String(n).padStart(32, '0')}`,
    title: `Mission ${n}`,
    stage: 'backlog',
    version: 1,
    workspaceId: 'ws_1',
    ownerId: 'u_1',
    createdAt: `2026-12-05T05:${String(n).padStart(2, '0')}:00.000Z`,
    updatedAt: `2026-12-05T05:${String(n).padStart(2, '0')}:00.000Z`,
  };
}

describe('mission pages', () => {
  it('appends an older page after the loaded ones, without repeating a mission', () => {
    const first: MissionList = { items: [mission(9), mission(8)], nextCursor: 'c1' };
    const next = appendMissionPage(first, { items: [mission(8), mission(7)], nextCursor: null });
    expect(next.items.map((m) => m.title)).toEqual(['Mission 9', 'Mission 8', 'Mission 7']);
    expect(hasMoreMissions(first)).toBe(true);
    expect(hasMoreMissions(next)).toBe(false);
  });

  it('keeps the cursor when a pushed event changes the list', () => {
    const list: MissionList = { items: [mission(2)], nextCursor: 'c1' };
    const changed = applyMissionEvent(
      list,
      envelope('mission.stage_changed', { kind: 'mission', id: mission(2).id }, 2, {
        workspaceId: 'ws_1',
        title: 'Mission 2',
        from: 'backlog',
        to: 'spec',
      }),
    );
    expect(changed?.nextCursor).toBe('c1');
    expect(changed?.items[0].stage).toBe('spec');
  });

  it('does not count a mission on a page not loaded yet as a stale list', () => {
    const event = envelope('mission.stage_changed', { kind: 'mission', id: mission(1).id }, 2, {
      workspaceId: 'ws_1',
      title: 'Old',
      from: 'backlog',
      to: 'spec',
    });
    expect(missionListMisses({ items: [mission(2)], nextCursor: 'c1' }, event)).toBe(false);
    expect(missionListMisses({ items: [mission(2)], nextCursor: null }, event)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import type { QuietHours, WorkspaceConfigView } from '../api/types';
import { envelope } from './testEnvelope';
import { applyConfigEvent, followsWorkspaceDefault, newerConfig } from './workspaceConfig';

const ON = { toast: true, inbox: true, cli: true };
const ALL_ON = { missions: ON, workstations: ON, community: ON, system: ON };

const quiet: QuietHours = { enabled: true, start: '22:00', end: '07:00', timezone: 'UTC', allowUrgent: false };

const updated = (workspaceId: string, version: number, defaultQuietHours: QuietHours | null) =>
  envelope('config.updated', { kind: 'workspace_config', id: workspaceId }, version, {
    workspaceId,
    config: { defaultQuietHours },
  });

describe('config.updated', () => {
  const held: WorkspaceConfigView = { workspaceId: 'ws_a', config: { defaultQuietHours: null }, version: 2 };

  it('replaces the whole document with a newer version and ignores an older or equal one', () => {
    expect(applyConfigEvent(held, 'ws_a', updated('ws_a', 3, quiet))).toEqual({
      workspaceId: 'ws_a',
      config: { defaultQuietHours: quiet },
      version: 3,
    });
    expect(applyConfigEvent(held, 'ws_a', updated('ws_a', 2, quiet))).toBe(held);
    expect(applyConfigEvent(held, 'ws_a', updated('ws_a', 1, quiet))).toBe(held);
  });

  it('leaves another workspace’s settings alone', () => {
    expect(applyConfigEvent(held, 'ws_a', updated('ws_b', 9, quiet))).toBe(held);
    expect(applyConfigEvent(undefined, 'ws_a', updated('ws_b', 1, quiet))).toBeUndefined();
  });

  it('keeps a pushed version newer than an API answer that it overtook', () => {
    const pushed = applyConfigEvent(held, 'ws_a', updated('ws_a', 4, quiet));
    expect(newerConfig(pushed, held)).toBe(pushed);
    const answer: WorkspaceConfigView = { ...held, version: 5 };
    expect(newerConfig(pushed, answer)).toBe(answer);
  });

  it('matters for the quiet hours in force only to someone who set none', () => {
    expect(followsWorkspaceDefault({ quietHours: quiet, version: 0, quietHoursSet: false, missionRules: {}, surfaces: ALL_ON })).toBe(true);
    expect(followsWorkspaceDefault({ quietHours: quiet, version: 1, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON })).toBe(false);
    expect(followsWorkspaceDefault({ quietHours: quiet, version: 2, quietHoursSet: false, missionRules: { m_1: 'mute' }, surfaces: ALL_ON })).toBe(true);
    expect(followsWorkspaceDefault(undefined)).toBe(false);
  });
});

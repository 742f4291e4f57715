import { describe, expect, it } from 'vitest';
import type { Agent, Workstation } from '../api/types';
import { agentsByMission } from './agents';

function agent(id: string, missionId: string | null): Agent {
  return { id, name: `Agent ${id}`, status: 'working', missionId, version: 1, updatedAt: '2026-01-01T00:00:00Z' };
}

function workstation(id: string, status: Workstation['status'], agents: Agent[]): Workstation {
  return {
    id,
    name: `ws ${id}`,
    status,
    workspaceId: 'w1',
    ownerId: 'u1',
    version: 1,
    lastHeartbeatAt: null,
    createdAt: '2026-01-01T00:00:00Z',
    agents,
  };
}

describe('agentsByMission', () => {
  it('groups agents by mission, each with its workstation and that workstation’s status', () => {
    const map = agentsByMission([
      workstation('a', 'online', [agent('1', 'm1'), agent('2', null)]),
      workstation('b', 'offline', [agent('3', 'm1'), agent('4', 'm2')]),
    ]);
    expect([...map.keys()].sort()).toEqual(['m1', 'm2']);
    expect(map.get('m1')!.map((p) => [p.agent.id, p.workstation.id, p.workstation.status])).toEqual([
      ['1', 'a', 'online'],
      ['3', 'b', 'offline'],
    ]);
    expect(map.get('m2')![0].workstation).toEqual({ id: 'b', name: 'ws b', status: 'offline' });
  });

  it('is empty without agents on missions', () => {
    expect(agentsByMission([]).size).toBe(0);
    expect(agentsByMission([workstation('a', 'online', [agent('1', null)])]).size).toBe(0);
  });
});

import type { Agent, Workstation, WorkstationStatus } from '../api/types';

/** An agent with the workstation it runs on. */
export interface PlacedAgent {
  agent: Agent;
  workstation: { id: string; name: string; status: WorkstationStatus };
}

/**
 * The agents working on each mission, by mission id, each with its
 * workstation (whose status says whether the agent's last report still holds).
 */
export function agentsByMission(workstations: readonly Workstation[]): Map<string, PlacedAgent[]> {
  const map = new Map<string, PlacedAgent[]>();
  for (const ws of workstations) {
    const workstation = { id: ws.id, name: ws.name, status: ws.status };
    for (const agent of ws.agents) {
      if (!agent.missionId) continue;
      const list = map.get(agent.missionId) ?? [];
      list.push({ agent, workstation });
      map.set(agent.missionId, list);
    }
  }
  return map;
}

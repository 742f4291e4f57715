import { Link, useParams } from 'react-router-dom';
import { useMissions, useWorkstation } from '../api/hooks';
import type { EventEnvelope } from '../api/types';
import { QueryState } from '../components/QueryState';
import { RelativeTime } from '../components/RelativeTime';
import { AgentAvatar, AgentStatusText, WorkstationBadge } from '../components/Status';
import { AGENT_STATUS, dateTime, WORKSTATION_STATUS } from '../lib/format';
import { usePageChannel } from '../realtime/RealtimeProvider';

/** One line saying what an event did. */
function describe(event: EventEnvelope): string {
  switch (event.type) {
    case 'workstation.created':
      return `Registered as “${event.data.name}”`;
    case 'workstation.heartbeat':
      return `Heartbeat: ${event.data.agents.length === 1 ? '1 agent' : `${event.data.agents.length} agents`} reported`;
    case 'workstation.status_changed':
      return `Status ${WORKSTATION_STATUS[event.data.from].label} → ${WORKSTATION_STATUS[event.data.to].label}`;
    case 'agent.status_changed':
      return `${event.data.name}: ${event.data.from ? `${AGENT_STATUS[event.data.from].label} → ` : ''}${AGENT_STATUS[event.data.to].label}`;
    default:
      return event.type;
  }
}

export function WorkstationConsolePage() {
  const { id = '' } = useParams();
  const workstation = useWorkstation(id);
  const missions = useMissions();
  usePageChannel(id ? `workstation:${id}` : null);
  const missionTitle = (missionId: string) => missions.data?.items.find((m) => m.id === missionId)?.title ?? missionId;

  return (
    <section className="page" aria-labelledby="console-title">
      <p>
        <Link to="/workstations">← All workstations</Link>
      </p>
      <QueryState query={workstation}>
        {(ws) => (
          <>
            <div className="page-head">
              <h1 id="console-title">{ws.name}</h1>
              <WorkstationBadge status={ws.status} />
            </div>
            <dl className="facts">
              <div>
                <dt>Last heartbeat</dt>
                <dd>
                  <RelativeTime iso={ws.lastHeartbeatAt} />
                </dd>
              </div>
              <div>
                <dt>Registered</dt>
                <dd>{dateTime(ws.createdAt)}</dd>
              </div>
            </dl>

            <h2>Agents</h2>
            {ws.agents.length === 0 ? (
              <p className="muted">No agent reported yet.</p>
            ) : (
              <ul className="agent-list">
                {ws.agents.map((agent) => (
                  <li key={agent.id} className="card agent-row">
                    <AgentAvatar agent={agent} workstation={ws} decorative />
                    <div className="agent-info">
                      <strong>{agent.name}</strong>
                      <AgentStatusText status={agent.status} />
                      {agent.missionId && (
                        <Link to={`/missions/${encodeURIComponent(agent.missionId)}`} className="small">
                          {missionTitle(agent.missionId)}
                        </Link>
                      )}
                    </div>
                    <span className="muted small">
                      <RelativeTime iso={agent.updatedAt} />
                    </span>
                  </li>
                ))}
              </ul>
            )}

            <h2>Recent events</h2>
            {ws.recentEvents.length === 0 ? (
              <p className="muted">Nothing yet.</p>
            ) : (
              <ol className="event-list">
                {ws.recentEvents.map((event) => (
                  <li key={event.id}>
                    <span>{describe(event)}</span>
                    <span className="muted small">
                      <RelativeTime iso={event.ts} />
                    </span>
                  </li>
                ))}
              </ol>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}

import { Link } from 'react-router-dom';
import { useWorkstations } from '../api/hooks';
import { QueryState } from '../components/QueryState';
import { RelativeTime } from '../components/RelativeTime';
import { AgentAvatar, WorkstationBadge } from '../components/Status';
import { plural } from '../lib/format';

export function WorkstationsPage() {
  const workstations = useWorkstations();
  return (
    <section className="page" aria-labelledby="ws-title">
      <h1 id="ws-title">Workstations</h1>
      <QueryState query={workstations}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted">No workstation has been registered yet.</p>
          ) : (
            <ul className="ws-list">
              {[...data.items]
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((ws) => {
                  const working = ws.agents.filter((a) => a.status === 'working').length;
                  return (
                    <li key={ws.id} className="card ws-row">
                      <div className="ws-main">
                        <h2 className="ws-name">
                          <Link to={`/workstations/${encodeURIComponent(ws.id)}`}>{ws.name}</Link>
                        </h2>
                        <WorkstationBadge status={ws.status} />
                      </div>
                      <p className="muted small">
                        {plural(ws.agents.length, 'agent')}, {working} working
                        {ws.status === 'online' || ws.agents.length === 0 ? '' : ' when last heard'} · last heartbeat{' '}
                        <RelativeTime iso={ws.lastHeartbeatAt} />
                      </p>
                      {ws.agents.length > 0 && (
                        <ul className="avatars" aria-label={`Agents of ${ws.name}`}>
                          {ws.agents.map((agent) => (
                            <li key={agent.id}>
                              <AgentAvatar agent={agent} workstation={ws} />
                            </li>
                          ))}
                        </ul>
                      )}
                    </li>
                  );
                })}
            </ul>
          )
        }
      </QueryState>
    </section>
  );
}

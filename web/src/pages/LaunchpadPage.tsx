import { Link } from 'react-router-dom';
import { usePresence, useWorkstations } from '../api/hooks';
import type { Me, PresenceSummary } from '../api/types';
import { summarizeWorkstations } from '../realtime/applyEvent';

function Stat({ value, label, detail }: { value: string; label: string; detail?: string }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>
        <span className="stat-value">{value}</span>
        {detail && <span className="stat-detail">{detail}</span>}
      </dd>
    </div>
  );
}

export function LaunchpadPage({ me }: { me: Me }) {
  const workstations = useWorkstations();
  const presence = usePresence();

  return (
    <section className="page" aria-labelledby="launchpad-title">
      <h1 id="launchpad-title">Launchpad</h1>
      {me.workspaces.length === 0 && <p>You are not a member of any workspace yet.</p>}
      <div className="workspace-grid">
        {me.workspaces.map((workspace) => {
          const fromServer: PresenceSummary | undefined = presence.data?.items.find((p) => p.workspaceId === workspace.id);
          // Workstation and agent counts follow the live workstations list; people come from presence.
          const live = workstations.data ? summarizeWorkstations(workstations.data.items, workspace.id) : fromServer;
          const people = fromServer?.people;
          const loading = '…';
          return (
            <article key={workspace.id} className="card workspace-card" aria-labelledby={`ws-${workspace.id}`}>
              <h2 id={`ws-${workspace.id}`}>{workspace.name}</h2>
              <dl className="stats">
                <Stat
                  label="Workstations online"
                  value={live ? `${live.workstations.online} / ${live.workstations.total}` : loading}
                  detail={live && live.workstations.degraded > 0 ? `${live.workstations.degraded} degraded` : undefined}
                />
                <Stat
                  label="Agents working"
                  value={live ? String(live.agents.working) : loading}
                  detail={
                    live && live.agents.waitingReview + live.agents.error > 0
                      ? [
                          live.agents.waitingReview ? `${live.agents.waitingReview} waiting for review` : '',
                          live.agents.error ? `${live.agents.error} in error` : '',
                        ]
                          .filter(Boolean)
                          .join(', ')
                      : undefined
                  }
                />
                <Stat label="People online" value={people ? String(people.online) : loading} />
              </dl>
              {people && people.users.length > 0 && (
                <p className="people">
                  <span className="sr-only">Online: </span>
                  {people.users.map((u) => u.name).join(', ')}
                </p>
              )}
              <p className="card-links">
                <Link to="/board">Mission board</Link>
                <Link to="/workstations">Workstations</Link>
              </p>
            </article>
          );
        })}
      </div>
      {(workstations.isError || presence.isError) && (
        <p className="form-error" role="alert">
          Some counts could not be loaded; they will refresh on their own.
        </p>
      )}
    </section>
  );
}

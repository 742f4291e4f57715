import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useCreateMission, useLoadMoreMissions, useMissions, useWorkstations } from '../api/hooks';
import { STAGES, type Me, type Mission } from '../api/types';
import { AgentAvatar, AgentLegend } from '../components/Status';
import { QueryState } from '../components/QueryState';
import { StageControls } from '../components/StageControls';
import { agentsByMission as groupAgents, type PlacedAgent } from '../lib/agents';
import { STAGE_LABELS } from '../lib/format';
import { hasMoreMissions } from '../realtime/missionPages';
import { usePageChannel } from '../realtime/RealtimeProvider';
import { MutationError } from '../components/MutationError';

function NewMissionForm({ me }: { me: Me }) {
  const create = useCreateMission();
  const [title, setTitle] = useState('');
  const [workspaceId, setWorkspaceId] = useState(me.workspaces[0]?.id ?? '');
  const several = me.workspaces.length > 1;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = title.trim();
    if (!trimmed) return;
    create.mutate(several ? { title: trimmed, workspaceId } : { title: trimmed }, { onSuccess: () => setTitle('') });
  };

  return (
    <form className="inline-form" onSubmit={submit} aria-label="Create a mission">
      <label className="field grow">
        <span>New mission</span>
        <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} required placeholder="Title" />
      </label>
      {several && (
        <label className="field">
          <span>Workspace</span>
          <select value={workspaceId} onChange={(e) => setWorkspaceId(e.target.value)}>
            {me.workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <button type="submit" className="button button-primary" disabled={create.isPending}>
        Add
      </button>
      <MutationError mutation={create} />
    </form>
  );
}

function MissionCard({
  mission,
  agents,
  highlighted,
  workspaceName,
}: {
  mission: Mission;
  agents: PlacedAgent[];
  highlighted: boolean;
  workspaceName?: string;
}) {
  const titleId = `mission-${mission.id}`;

  return (
    <li id={`card-${mission.id}`} className={`card mission-card${highlighted ? ' highlighted' : ''}`} aria-labelledby={titleId}>
      <h3 id={titleId} className="mission-title">
        <Link to={`/missions/${encodeURIComponent(mission.id)}`}>{mission.title}</Link>
      </h3>
      {workspaceName && <p className="muted small">{workspaceName}</p>}
      {agents.length > 0 ? (
        <ul className="avatars" aria-label="Agents on this mission">
          {agents.map(({ agent, workstation }) => (
            <li key={`${workstation.id}/${agent.id}`}>
              <AgentAvatar agent={agent} workstation={workstation} />
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted small">No agent on it</p>
      )}
      <StageControls mission={mission} />
    </li>
  );
}

/** Says how much of the board is loaded and loads older missions. */
function LoadMore({ shown }: { shown: number }) {
  const loadMore = useLoadMoreMissions();
  return (
    <div className="load-more">
      <p className="muted small" role="status">
        The {shown} newest missions are shown.
      </p>
      <button type="button" className="button" onClick={() => loadMore.mutate()} disabled={loadMore.isPending}>
        {loadMore.isPending ? 'Loading…' : 'Load more missions'}
      </button>
    </div>
  );
}

export function BoardPage({ me }: { me: Me }) {
  const missions = useMissions();
  const workstations = useWorkstations();
  const [params] = useSearchParams();
  const focused = params.get('mission');
  usePageChannel(focused ? `mission:${focused}` : null);

  const agentsByMission = useMemo(() => groupAgents(workstations.data?.items ?? []), [workstations.data]);

  const workspaceNames = useMemo(() => new Map(me.workspaces.map((w) => [w.id, w.name])), [me.workspaces]);
  const several = me.workspaces.length > 1;

  useEffect(() => {
    if (focused && missions.data) document.getElementById(`card-${focused}`)?.scrollIntoView({ block: 'center' });
  }, [focused, missions.data]);

  return (
    <section className="page" aria-labelledby="board-title">
      <div className="page-head">
        <h1 id="board-title">Mission board</h1>
        <AgentLegend away />
      </div>
      <NewMissionForm me={me} />
      <QueryState query={missions}>
        {(data) => (
          <>
          <div className="board">
            {STAGES.map((stage) => {
              const items = data.items
                .filter((m) => m.stage === stage)
                .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
              return (
                <section key={stage} className="column" aria-labelledby={`col-${stage}`}>
                  <h2 id={`col-${stage}`} className="column-title">
                    {STAGE_LABELS[stage]} <span className="muted">({items.length})</span>
                  </h2>
                  {items.length === 0 ? (
                    <p className="muted small">Nothing here</p>
                  ) : (
                    <ul className="cards">
                      {items.map((mission) => (
                        <MissionCard
                          key={mission.id}
                          mission={mission}
                          agents={agentsByMission.get(mission.id) ?? []}
                          highlighted={mission.id === focused}
                          workspaceName={several ? workspaceNames.get(mission.workspaceId) : undefined}
                        />
                      ))}
                    </ul>
                  )}
                </section>
              );
            })}
          </div>
          {hasMoreMissions(data) && <LoadMore shown={data.items.length} />}
          </>
        )}
      </QueryState>
    </section>
  );
}

import { useMemo, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { isApiError } from '../api/client';
import {
  useCreateFallback,
  useCreateReview,
  useMemberNames,
  useMission,
  useMissionTimeline,
  useWatchMission,
  useWorkstations,
} from '../api/hooks';
import type { EventEnvelope, Me, MissionDetail, ReviewDecision } from '../api/types';
import { QueryState } from '../components/QueryState';
import { RelativeTime } from '../components/RelativeTime';
import { StageControls } from '../components/StageControls';
import { AgentAvatar, AgentStatusText } from '../components/Status';
import { agentsByMission } from '../lib/agents';
import { AGENT_STATUS, dateTime, STAGE_LABELS } from '../lib/format';
import { fallbacksOf } from '../realtime/applyEvent';
import { usePageChannel } from '../realtime/RealtimeProvider';
import { MutationError } from '../components/MutationError';

const DECISIONS: Record<ReviewDecision, { label: string; glyph: string; className: string }> = {
  approved: { label: 'Approved', glyph: '✓', className: 'ws-online' },
  changes_requested: { label: 'Changes requested', glyph: '↺', className: 'sev-warning' },
  rejected: { label: 'Rejected', glyph: '✕', className: 'sev-urgent' },
};

/** One line saying what happened to the mission. */
function describe(event: EventEnvelope, nameOf: (id: string) => string): string {
  const who = event.actor.kind === 'user' ? nameOf(event.actor.id) : 'Solo';
  switch (event.type) {
    case 'mission.created':
      return `${who} created it in ${STAGE_LABELS[event.data.stage]}`;
    case 'mission.stage_changed':
      return `${who} moved it from ${STAGE_LABELS[event.data.from]} to ${STAGE_LABELS[event.data.to]}`;
    case 'review.decided': {
      const verb = { approved: 'approved it', changes_requested: 'asked for changes', rejected: 'rejected it' }[event.data.decision];
      return `${nameOf(event.data.reviewerId)} ${verb}${event.data.comment ? `: “${event.data.comment}”` : ''}`;
    }
    case 'fallback.generated':
      return `${who} recorded a fallback (${event.data.reason}): ${event.data.summary}`;
    case 'agent.status_changed':
      return `Agent ${event.data.name}: ${event.data.from ? `${AGENT_STATUS[event.data.from].label} → ` : ''}${AGENT_STATUS[event.data.to].label}`;
    default:
      return event.type;
  }
}

function ReviewForm({ missionId }: { missionId: string }) {
  const create = useCreateReview(missionId);
  const [comment, setComment] = useState('');
  const decide = (decision: ReviewDecision) => (event: FormEvent) => {
    event.preventDefault();
    const text = comment.trim();
    create.mutate(text ? { decision, comment: text } : { decision }, { onSuccess: () => setComment('') });
  };
  return (
    <form className="form" onSubmit={decide('approved')} aria-label="Review this mission">
      <label className="field">
        <span>Comment</span>
        <textarea value={comment} onChange={(e) => setComment(e.target.value)} maxLength={4000} rows={2} />
      </label>
      <div className="card-actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Approve
        </button>
        <button type="button" className="button" disabled={create.isPending} onClick={decide('changes_requested')}>
          Request changes
        </button>
        <button type="button" className="button button-danger" disabled={create.isPending} onClick={decide('rejected')}>
          Reject
        </button>
      </div>
      <MutationError mutation={create} />
    </form>
  );
}

function FallbackForm({ missionId }: { missionId: string }) {
  const create = useCreateFallback(missionId);
  const [reason, setReason] = useState('');
  const [summary, setSummary] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!reason.trim() || !summary.trim()) return;
    create.mutate(
      { reason: reason.trim(), summary: summary.trim() },
      {
        onSuccess: () => {
          setReason('');
          setSummary('');
        },
      },
    );
  };
  return (
    <form className="form" onSubmit={submit} aria-label="Record a fallback">
      <label className="field">
        <span>Reason</span>
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required placeholder="e.g. agent crashed" />
      </label>
      <label className="field">
        <span>Fallback plan</span>
        <textarea value={summary} onChange={(e) => setSummary(e.target.value)} maxLength={4000} rows={2} required />
      </label>
      <button type="submit" className="button button-primary" disabled={create.isPending}>
        Record fallback
      </button>
      <MutationError mutation={create} />
    </form>
  );
}

function Watchers({ mission, me, nameOf }: { mission: MissionDetail; me: Me; nameOf: (id: string) => string }) {
  const watch = useWatchMission(mission.id, me.id);
  const watching = mission.watcherIds.includes(me.id);
  return (
    <section aria-labelledby="watchers-title">
      <h2 id="watchers-title">Watchers</h2>
      {mission.watcherIds.length === 0 ? (
        <p className="muted">Nobody watches it.</p>
      ) : (
        <ul className="name-list">
          {mission.watcherIds.map((id) => (
            <li key={id}>{id === me.id ? `${nameOf(id)} (you)` : nameOf(id)}</li>
          ))}
        </ul>
      )}
      <button
        type="button"
        className="button"
        aria-pressed={watching}
        disabled={watch.isPending}
        onClick={() => watch.mutate(!watching)}
      >
        {watching ? 'Unwatch' : 'Watch'}
      </button>
      <p className="muted small">Watchers are notified when the mission changes stage.</p>
    </section>
  );
}

function MissionView({ mission, me }: { mission: MissionDetail; me: Me }) {
  const timeline = useMissionTimeline(mission.id);
  const workstations = useWorkstations();
  const nameOf = useMemberNames(me);
  const agents = useMemo(
    () => agentsByMission(workstations.data?.items ?? []).get(mission.id) ?? [],
    [workstations.data, mission.id],
  );
  const events = timeline.data?.events ?? [];
  const fallbacks = useMemo(() => fallbacksOf(events), [events]);
  const reviews = [...mission.reviews].reverse();

  return (
    <>
      <div className="page-head">
        <h1 id="mission-title">{mission.title}</h1>
        <span className="badge stage-badge">{STAGE_LABELS[mission.stage]}</span>
      </div>
      <dl className="facts">
        <div>
          <dt>Stage</dt>
          <dd>{STAGE_LABELS[mission.stage]}</dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{nameOf(mission.ownerId)}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{dateTime(mission.createdAt)}</dd>
        </div>
        <div>
          <dt>Last change</dt>
          <dd>
            <RelativeTime iso={mission.updatedAt} tick={15000} />
          </dd>
        </div>
      </dl>
      <StageControls mission={mission} />

      <div className="mission-layout">
        <div>
          <section aria-labelledby="agents-title">
            <h2 id="agents-title">Agents on it</h2>
            {agents.length === 0 ? (
              <p className="muted">No agent is working on it.</p>
            ) : (
              <ul className="agent-list">
                {agents.map(({ agent, workstation }) => (
                  <li key={`${workstation.id}/${agent.id}`} className="card agent-row">
                    <AgentAvatar agent={agent} workstation={workstation} decorative />
                    <div className="agent-info">
                      <strong>{agent.name}</strong>
                      <AgentStatusText status={agent.status} />
                      <Link to={`/workstations/${encodeURIComponent(workstation.id)}`} className="small">
                        {workstation.name}
                      </Link>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </section>

          <section aria-labelledby="reviews-title">
            <h2 id="reviews-title">Reviews</h2>
            {reviews.length === 0 ? (
              <p className="muted">No review yet.</p>
            ) : (
              <ul className="item-list" aria-label="Reviews">
                {reviews.map((review) => {
                  const decision = DECISIONS[review.decision];
                  return (
                    <li key={review.id} className="card review">
                      <div className="notification-head">
                        <span className={`badge ${decision.className}`}>
                          <span aria-hidden="true">{decision.glyph}</span> {decision.label}
                        </span>
                        <strong>{nameOf(review.reviewerId)}</strong>
                        <span className="muted small">
                          <RelativeTime iso={review.createdAt} tick={15000} />
                        </span>
                      </div>
                      {review.comment && <p className="item-text">{review.comment}</p>}
                    </li>
                  );
                })}
              </ul>
            )}
            <ReviewForm missionId={mission.id} />
          </section>

          <section aria-labelledby="fallbacks-title">
            <h2 id="fallbacks-title">Fallbacks</h2>
            {fallbacks.length === 0 ? (
              <p className="muted">No fallback generated.</p>
            ) : (
              <ul className="item-list" aria-label="Fallbacks">
                {[...fallbacks].reverse().map((fallback) => (
                  <li key={fallback.id} className="card">
                    <div className="notification-head">
                      <strong>{fallback.reason}</strong>
                      <span className="muted small">
                        {fallback.createdBy ? `${nameOf(fallback.createdBy)}, ` : ''}
                        <RelativeTime iso={fallback.createdAt} tick={15000} />
                      </span>
                    </div>
                    <p className="item-text">{fallback.summary}</p>
                  </li>
                ))}
              </ul>
            )}
            <FallbackForm missionId={mission.id} />
          </section>

          <Watchers mission={mission} me={me} nameOf={nameOf} />
        </div>

        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <QueryState query={timeline}>
            {() =>
              events.length === 0 ? (
                <p className="muted">Nothing yet.</p>
              ) : (
                <ol className="event-list timeline" aria-label="Timeline, newest first">
                  {[...events].reverse().map((event) => (
                    <li key={event.id}>
                      <span className="timeline-text">{describe(event, nameOf)}</span>
                      <span className="muted small">
                        <RelativeTime iso={event.ts} />
                      </span>
                    </li>
                  ))}
                </ol>
              )
            }
          </QueryState>
        </section>
      </div>
    </>
  );
}

export function MissionPage({ me }: { me: Me }) {
  const { id = '' } = useParams();
  const mission = useMission(id);
  const notFound = isApiError(mission.error) && mission.error.status === 404 && !mission.data;
  usePageChannel(id && !notFound ? `mission:${id}` : null);

  return (
    <section className="page" aria-labelledby="mission-title">
      <p>
        <Link to={`/board?mission=${encodeURIComponent(id)}`}>← Mission board</Link>
      </p>
      {notFound ? (
        <div className="card not-found" role="alert">
          <h1 id="mission-title">Mission not found</h1>
          <p>There is no mission “{id}”, or it is in a workspace you are not a member of.</p>
          <p>
            <Link to="/board">Back to the mission board</Link>
          </p>
        </div>
      ) : (
        <QueryState query={mission}>{(data) => <MissionView mission={data} me={me} />}</QueryState>
      )}
    </section>
  );
}

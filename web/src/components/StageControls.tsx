import { useChangeStage } from '../api/hooks';
import { STAGES, type Mission, type Stage } from '../api/types';
import { STAGE_LABELS } from '../lib/format';

/** Moves a mission one stage forward, or back to any earlier stage (as the server allows). */
export function StageControls({ mission }: { mission: Pick<Mission, 'id' | 'title' | 'stage'> }) {
  const change = useChangeStage();
  const index = STAGES.indexOf(mission.stage);
  const next: Stage | undefined = STAGES[index + 1];
  const earlier = STAGES.slice(0, index);
  const move = (stage: Stage) => change.mutate({ id: mission.id, stage });

  return (
    <div className="card-actions">
      {next && (
        <button
          type="button"
          className="button"
          disabled={change.isPending}
          onClick={() => move(next)}
          aria-label={`Move “${mission.title}” to ${STAGE_LABELS[next]}`}
        >
          {STAGE_LABELS[next]} →
        </button>
      )}
      {earlier.length > 0 && (
        <details className="menu">
          <summary className="button button-quiet">Move back</summary>
          <ul className="menu-list" aria-label={`Move “${mission.title}” back to`}>
            {earlier.map((stage) => (
              <li key={stage}>
                <button type="button" className="button button-quiet" disabled={change.isPending} onClick={() => move(stage)}>
                  ← {STAGE_LABELS[stage]}
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

import type { Agent, AgentStatus, WorkstationStatus } from '../api/types';
import { AGENT_STATUS, initials, WORKSTATION_STATUS } from '../lib/format';

/** A workstation's status: shape, word and colour. */
export function WorkstationBadge({ status }: { status: WorkstationStatus }) {
  const { label, glyph } = WORKSTATION_STATUS[status];
  return (
    <span className={`badge ws-${status}`}>
      <span aria-hidden="true">{glyph}</span> {label}
    </span>
  );
}

/** An agent's status as a word with its shape. */
export function AgentStatusText({ status }: { status: AgentStatus }) {
  const { label, glyph } = AGENT_STATUS[status];
  return (
    <span className={`agent-status agent-${status}`}>
      <span aria-hidden="true">{glyph}</span> {label}
    </span>
  );
}

/** An agent's avatar with a status dot; the dot's shape and the hidden text say the status. */
export function AgentAvatar({
  agent,
  decorative = false,
}: {
  agent: Pick<Agent, 'id' | 'name' | 'status'>;
  /** Set when the name and status are written next to it. */
  decorative?: boolean;
}) {
  const { label, glyph } = AGENT_STATUS[agent.status];
  return (
    <span className="avatar" title={`${agent.name}: ${label}`} aria-hidden={decorative || undefined}>
      <span className="avatar-initials" aria-hidden="true">
        {initials(agent.name)}
      </span>
      <span key={agent.status} className={`dot agent-${agent.status}`} aria-hidden="true">
        {glyph}
      </span>
      <span className="sr-only">
        {agent.name}: {label}
      </span>
    </span>
  );
}

export function AgentLegend() {
  return (
    <ul className="legend" aria-label="Agent status legend">
      {(Object.keys(AGENT_STATUS) as AgentStatus[]).map((status) => (
        <li key={status}>
          <AgentStatusText status={status} />
        </li>
      ))}
    </ul>
  );
}

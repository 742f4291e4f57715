import type { Agent, AgentStatus, WorkstationStatus } from '../api/types';
import { AGENT_AWAY, AGENT_STATUS, initials, WORKSTATION_STATUS } from '../lib/format';

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
  workstation,
  decorative = false,
}: {
  agent: Pick<Agent, 'id' | 'name' | 'status'>;
  /**
   * The workstation the agent runs on. When it is degraded or offline, the
   * agent's last reported status may no longer hold: the avatar is dimmed and
   * its dot shows the workstation's status instead.
   */
  workstation?: { name: string; status: WorkstationStatus };
  /** Set when the name and status are written next to it. */
  decorative?: boolean;
}) {
  const { label, glyph } = AGENT_STATUS[agent.status];
  const away = workstation && workstation.status !== 'online' ? workstation.status : null;
  const where = workstation ? ` on ${workstation.name}` : '';
  const text = away
    ? `${agent.name}${where}: ${AGENT_AWAY[away].label.toLowerCase()}, last reported ${label.toLowerCase()}`
    : `${agent.name}${where}: ${label}`;
  return (
    <span className={`avatar${away ? ` avatar-away avatar-${away}` : ''}`} title={text} aria-hidden={decorative || undefined}>
      <span className="avatar-initials" aria-hidden="true">
        {initials(agent.name)}
      </span>
      {away ? (
        <span key={`away-${away}`} className={`dot ws-${away}`} aria-hidden="true">
          {AGENT_AWAY[away].glyph}
        </span>
      ) : (
        <span key={agent.status} className={`dot agent-${agent.status}`} aria-hidden="true">
          {glyph}
        </span>
      )}
      <span className="sr-only">{text}</span>
    </span>
  );
}

/** The avatar dots' meanings; `away` adds those of agents whose workstation stopped reporting. */
export function AgentLegend({ away = false }: { away?: boolean }) {
  return (
    <ul className="legend" aria-label="Agent status legend">
      {(Object.keys(AGENT_STATUS) as AgentStatus[]).map((status) => (
        <li key={status}>
          <AgentStatusText status={status} />
        </li>
      ))}
      {away &&
        (Object.keys(AGENT_AWAY) as (keyof typeof AGENT_AWAY)[]).map((status) => (
          <li key={status}>
            <span className={`agent-status ws-${status}`}>
              <span aria-hidden="true">{AGENT_AWAY[status].glyph}</span> {AGENT_AWAY[status].label}
            </span>
          </li>
        ))}
    </ul>
  );
}

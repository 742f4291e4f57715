/**
 * A workspace's settings as pushed by `config.updated` (on `workspace:{id}`):
 * every event carries the whole document, so the newer one replaces what is
 * held. Pure functions: the cache glue is in `cache.ts`.
 */
import type { EventEnvelope, Preferences, WorkspaceConfigView } from '../api/types';

/**
 * The settings a `config.updated` event brings for the workspace `workspaceId`,
 * or `held` when the event is another workspace's or not newer than `held`.
 */
export function applyConfigEvent(
  held: WorkspaceConfigView | undefined,
  workspaceId: string,
  env: EventEnvelope,
): WorkspaceConfigView | undefined {
  if (env.type !== 'config.updated' || env.data.workspaceId !== workspaceId) return held;
  if (held && env.version <= held.version) return held;
  return { workspaceId, config: env.data.config, version: env.version };
}

/** Of the settings held and an answer of the API, the newer (an event may have overtaken the answer). */
export function newerConfig(held: WorkspaceConfigView | undefined, incoming: WorkspaceConfigView): WorkspaceConfigView {
  return held && held.version > incoming.version ? held : incoming;
}

/**
 * Whether a change of a workspace's settings may change the quiet hours in
 * force for the person: only while they have none of their own (version 0),
 * since their own always win. Then the client reads them again from the API,
 * which knows which workspace's default is theirs.
 */
export function followsWorkspaceDefault(prefs: Preferences | undefined): boolean {
  return prefs !== undefined && !prefs.quietHoursSet;
}

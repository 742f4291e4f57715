/**
 * How pushed events change cached data. Pure functions, no React: each takes
 * the data as cached (possibly undefined when nothing is loaded yet) and an
 * event envelope, and returns the new data, or the very same object when the
 * event changes nothing (already applied, older than what is held, not about
 * this data).
 *
 * Delivery is at-least-once and a page may hear the same event on several
 * channels, so two rules make applying idempotent:
 * - an event id already applied is dropped ({@link SeenEvents});
 * - an event whose `version` is not newer than the version held for its
 *   subject changes nothing.
 *
 * (About 570 lines: one small reducer per cached query shape, all sharing the
 * two rules above and the helpers that apply them; split by query, each file
 * would import the others' helpers.)
 */
import type {
  Agent,
  AgentCounts,
  Category,
  EnvelopeOf,
  EventEnvelope,
  Fallback,
  Mission,
  MissionDetail,
  MissionList,
  MissionTimeline,
  Notification,
  NotificationPage,
  OnlineUser,
  PeopleOnline,
  Post,
  PostList,
  PresenceList,
  Review,
  UnreadCounts,
  Workstation,
  WorkstationCounts,
  WorkstationDetail,
  WorkstationList,
} from '../api/types';

/** How many recent events the workstation console keeps (as the server sends). */
export const RECENT_EVENTS_LIMIT = 20;

// ---------------------------------------------------------------- dedup

/** Remembers the ids of applied events (the latest `limit` of them). */
export class SeenEvents {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 5000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Records `id`; false when it was already there (the event must be dropped). */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.limit) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}

export function isNewer(incoming: number, held: number | undefined | null): boolean {
  return held === undefined || held === null || incoming > held;
}

function is<T extends EventEnvelope['type']>(env: EventEnvelope, type: T): env is EnvelopeOf<T> {
  return env.type === type;
}

// ---------------------------------------------------------------- missions

const MISSION_EVENTS = new Set(['mission.created', 'mission.stage_changed', 'review.decided', 'fallback.generated']);

export function isMissionEvent(env: EventEnvelope): boolean {
  return MISSION_EVENTS.has(env.type) && env.subject.kind === 'mission';
}

/** Applies a mission event to the missions list. */
export function applyMissionEvent(list: MissionList | undefined, env: EventEnvelope): MissionList | undefined {
  if (!list || !isMissionEvent(env)) return list;
  const id = env.subject.id;
  const index = list.items.findIndex((m) => m.id === id);
  const held = index >= 0 ? list.items[index] : undefined;

  if (is(env, 'mission.created')) {
    if (held) return list;
    const mission: Mission = {
      id,
      title: env.data.title,
      stage: env.data.stage,
      version: env.version,
      workspaceId: env.data.workspaceId,
      ownerId: env.data.ownerId,
      createdAt: env.ts,
      updatedAt: env.ts,
    };
    return { ...list, items: [...list.items, mission] };
  }

  if (!held || !isNewer(env.version, held.version)) return list;
  let next: Mission = { ...held, version: env.version, updatedAt: env.ts };
  if (is(env, 'mission.stage_changed')) next = { ...next, stage: env.data.to, title: env.data.title };
  const items = list.items.slice();
  items[index] = next;
  return { ...list, items };
}

/** Puts a mission the API returned into the list, unless the list holds a newer one. */
export function upsertMission(list: MissionList | undefined, mission: Mission): MissionList | undefined {
  if (!list) return list;
  const index = list.items.findIndex((m) => m.id === mission.id);
  if (index < 0) return { ...list, items: [...list.items, mission] };
  if (!isNewer(mission.version, list.items[index].version)) return list;
  const items = list.items.slice();
  items[index] = mission;
  return { ...list, items };
}

/**
 * True when a mission event is about a mission the list does not hold (the
 * list is stale). While older pages are still to load, such a mission is
 * simply on one of them.
 */
export function missionListMisses(list: MissionList | undefined, env: EventEnvelope): boolean {
  if (!list || list.nextCursor || !isMissionEvent(env) || env.type === 'mission.created') return false;
  return !list.items.some((m) => m.id === env.subject.id);
}

// ---------------------------------------------------------------- one mission (its page)

/** How many events the mission page's timeline keeps. */
export const TIMELINE_LIMIT = 500;

/** The missions an event is about: its subject, or the mission an agent works on. */
export function missionIdsOf(env: EventEnvelope): string[] {
  if (isMissionEvent(env)) return [env.subject.id];
  if (is(env, 'agent.status_changed') && env.data.missionId) return [env.data.missionId];
  return [];
}

/** Applies a mission event to one mission's detail: stage, title, version and reviews. */
export function applyMissionDetailEvent(
  detail: MissionDetail | undefined,
  env: EventEnvelope,
): MissionDetail | undefined {
  if (!detail || !isMissionEvent(env) || env.subject.id !== detail.id) return detail;
  if (!isNewer(env.version, detail.version)) return detail;
  let next: MissionDetail = { ...detail, version: env.version, updatedAt: env.ts };
  if (is(env, 'mission.stage_changed')) next = { ...next, stage: env.data.to, title: env.data.title };
  if (is(env, 'review.decided') && !detail.reviews.some((r) => r.id === env.data.reviewId)) {
    const review: Review = {
      id: env.data.reviewId,
      missionId: detail.id,
      reviewerId: env.data.reviewerId,
      decision: env.data.decision,
      comment: env.data.comment ?? null,
      createdAt: env.ts,
    };
    next = { ...next, reviews: [...detail.reviews, review] };
  }
  return next;
}

/** Puts a mission the API returned (and the review it recorded, if any) into the detail, unless the detail is newer. */
export function upsertMissionDetail(
  detail: MissionDetail | undefined,
  mission: Mission,
  review?: Review,
): MissionDetail | undefined {
  if (!detail || detail.id !== mission.id) return detail;
  let next = detail;
  if (isNewer(mission.version, detail.version)) next = { ...next, ...mission };
  if (review && !next.reviews.some((r) => r.id === review.id)) next = { ...next, reviews: [...next.reviews, review] };
  return next;
}

/** Adds the user to the watchers, or removes them. */
export function applyWatching(
  detail: MissionDetail | undefined,
  userId: string,
  watching: boolean,
): MissionDetail | undefined {
  if (!detail) return detail;
  const has = detail.watcherIds.includes(userId);
  if (has === watching) return detail;
  const watcherIds = watching ? [...detail.watcherIds, userId] : detail.watcherIds.filter((id) => id !== userId);
  return { ...detail, watcherIds };
}

/** Adds an event about the timeline's mission, once, in time order (keeping the latest {@link TIMELINE_LIMIT}). */
export function applyTimelineEvent(
  timeline: MissionTimeline | undefined,
  env: EventEnvelope,
): MissionTimeline | undefined {
  if (!timeline || !missionIdsOf(env).includes(timeline.missionId)) return timeline;
  if (timeline.events.some((e) => e.id === env.id)) return timeline;
  const at = ms(env.ts);
  let index = timeline.events.length;
  while (index > 0 && ms(timeline.events[index - 1].ts) > at) index -= 1;
  const events = [...timeline.events.slice(0, index), env, ...timeline.events.slice(index)];
  return { ...timeline, events: events.slice(-TIMELINE_LIMIT) };
}

/** The fallbacks generated for a mission, oldest first, from its timeline. */
export function fallbacksOf(events: readonly EventEnvelope[]): Fallback[] {
  const fallbacks: Fallback[] = [];
  for (const env of events) {
    if (!is(env, 'fallback.generated') || fallbacks.some((f) => f.id === env.data.fallbackId)) continue;
    fallbacks.push({
      id: env.data.fallbackId,
      missionId: env.subject.id,
      reason: env.data.reason,
      summary: env.data.summary,
      createdBy: env.actor.kind === 'user' ? env.actor.id : '',
      createdAt: env.ts,
    });
  }
  return fallbacks;
}

// ---------------------------------------------------------------- workstations

const WORKSTATION_EVENTS = new Set([
  'workstation.created',
  'workstation.heartbeat',
  'workstation.status_changed',
  'agent.status_changed',
]);

export function isWorkstationEvent(env: EventEnvelope): boolean {
  return WORKSTATION_EVENTS.has(env.type);
}

/** The workstation an event is about, if any. */
export function workstationIdOf(env: EventEnvelope): string | null {
  if (is(env, 'agent.status_changed')) return env.data.workstationId;
  if (is(env, 'workstation.status_changed')) return env.data.workstationId;
  if (env.subject.kind === 'workstation') return env.subject.id;
  return null;
}

/**
 * Applies a workstation or agent event to one workstation. Workstation events
 * are checked against the workstation's version, agent events against the
 * agent's own version.
 */
export function applyToWorkstation<W extends Workstation>(ws: W, env: EventEnvelope): W {
  if (workstationIdOf(env) !== ws.id) return ws;

  if (is(env, 'agent.status_changed')) {
    const index = ws.agents.findIndex((a) => a.id === env.data.agentId);
    const held = index >= 0 ? ws.agents[index] : undefined;
    if (held && !isNewer(env.version, held.version)) return ws;
    const agent: Agent = {
      id: env.data.agentId,
      name: env.data.name,
      status: env.data.to,
      missionId: env.data.missionId ?? null,
      version: env.version,
      updatedAt: env.ts,
    };
    const agents = ws.agents.slice();
    if (index >= 0) agents[index] = agent;
    else agents.push(agent);
    return { ...ws, agents };
  }

  if (!isNewer(env.version, ws.version)) return ws;

  if (is(env, 'workstation.status_changed')) {
    return { ...ws, status: env.data.to, name: env.data.name, version: env.version };
  }
  if (is(env, 'workstation.heartbeat')) {
    // Agents that changed have their own `agent.status_changed` events, applied
    // by their own versions. A heartbeat only adds agents not known yet, so an
    // older heartbeat can never undo a newer agent change.
    const known = new Set(ws.agents.map((a) => a.id));
    const added: Agent[] = env.data.agents
      .filter((a) => !known.has(a.id))
      .map((a) => ({ id: a.id, name: a.name, status: a.status, missionId: a.missionId ?? null, version: 0, updatedAt: env.ts }));
    return {
      ...ws,
      status: env.data.status,
      lastHeartbeatAt: env.ts,
      version: env.version,
      agents: added.length ? [...ws.agents, ...added] : ws.agents,
    };
  }
  if (is(env, 'workstation.created')) {
    return { ...ws, name: env.data.name, version: env.version };
  }
  return ws;
}

/** Applies a workstation or agent event to the workstations list. */
export function applyWorkstationEvent(
  list: WorkstationList | undefined,
  env: EventEnvelope,
): WorkstationList | undefined {
  if (!list || !isWorkstationEvent(env)) return list;
  const id = workstationIdOf(env);
  const index = list.items.findIndex((w) => w.id === id);
  if (index < 0) {
    if (!is(env, 'workstation.created') || !id) return list;
    const created: Workstation = {
      id,
      name: env.data.name,
      status: 'offline',
      workspaceId: env.data.workspaceId,
      ownerId: env.data.ownerId,
      version: env.version,
      lastHeartbeatAt: null,
      createdAt: env.ts,
      agents: [],
    };
    return { ...list, items: [...list.items, created] };
  }
  const next = applyToWorkstation(list.items[index], env);
  if (next === list.items[index]) return list;
  const items = list.items.slice();
  items[index] = next;
  return { ...list, items };
}

/** True when a workstation event is about a workstation the list does not hold. */
export function workstationListMisses(list: WorkstationList | undefined, env: EventEnvelope): boolean {
  if (!list || !isWorkstationEvent(env) || env.type === 'workstation.created') return false;
  const id = workstationIdOf(env);
  return !!id && !list.items.some((w) => w.id === id);
}

/** Applies an event to a workstation console: its state, and its recent events. */
export function applyWorkstationDetailEvent(
  detail: WorkstationDetail | undefined,
  env: EventEnvelope,
): WorkstationDetail | undefined {
  if (!detail || !isWorkstationEvent(env) || workstationIdOf(env) !== detail.id) return detail;
  let next = applyToWorkstation(detail, env);
  // The console lists events about the workstation itself, as the server does.
  const own = env.subject.kind === 'workstation' && env.subject.id === detail.id;
  if (own && next !== detail && !detail.recentEvents.some((e) => e.id === env.id)) {
    next = { ...next, recentEvents: [env, ...detail.recentEvents].slice(0, RECENT_EVENTS_LIMIT) };
  }
  return next;
}

/** Online counts of one workspace, from the workstations list (agents count on workstations that are not offline). */
export function summarizeWorkstations(
  items: Workstation[],
  workspaceId: string,
): { workstations: WorkstationCounts; agents: AgentCounts } {
  const workstations: WorkstationCounts = { total: 0, online: 0, degraded: 0, offline: 0 };
  const agents: AgentCounts = { total: 0, idle: 0, working: 0, waitingReview: 0, error: 0 };
  for (const ws of items) {
    if (ws.workspaceId !== workspaceId) continue;
    workstations.total += 1;
    workstations[ws.status] += 1;
    if (ws.status === 'offline') continue;
    for (const agent of ws.agents) {
      agents.total += 1;
      if (agent.status === 'waiting_review') agents.waitingReview += 1;
      else agents[agent.status] += 1;
    }
  }
  return { workstations, agents };
}

// ---------------------------------------------------------------- presence (people online)

/** Who is subscribed to a workspace channel, by client id (one user may have several tabs). */
export type PresenceClients = Map<string, OnlineUser>;

/** Distinct users, sorted by id, as `GET /api/presence` reports them. */
export function peopleOf(clients: PresenceClients): PeopleOnline {
  const byId = new Map<string, OnlineUser>();
  for (const user of clients.values()) if (!byId.has(user.id)) byId.set(user.id, user);
  const users = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { online: users.length, users };
}

export function applyPeople(
  list: PresenceList | undefined,
  workspaceId: string,
  people: PeopleOnline,
): PresenceList | undefined {
  if (!list) return list;
  const index = list.items.findIndex((p) => p.workspaceId === workspaceId);
  if (index < 0) return list;
  const held = list.items[index].people;
  const same =
    held.online === people.online &&
    held.users.length === people.users.length &&
    held.users.every((u, i) => u.id === people.users[i].id && u.name === people.users[i].name);
  if (same) return list;
  const items = list.items.slice();
  items[index] = { ...items[index], people };
  return { ...list, items };
}

// ---------------------------------------------------------------- community

/** Puts a post into a feed (newest first), once. */
export function upsertPost(list: PostList | undefined, post: Post): PostList | undefined {
  if (!list || list.items.some((p) => p.id === post.id)) return list;
  const at = ms(post.createdAt);
  const index = list.items.findIndex((p) => ms(p.createdAt) < at);
  const items = index < 0 ? [...list.items, post] : [...list.items.slice(0, index), post, ...list.items.slice(index)];
  return { ...list, items };
}

/** Applies a `community.posted` event to the feed of `workspaceId`. */
export function applyCommunityEvent(
  list: PostList | undefined,
  workspaceId: string,
  env: EventEnvelope,
): PostList | undefined {
  if (!is(env, 'community.posted') || env.data.workspaceId !== workspaceId) return list;
  return upsertPost(list, {
    id: env.data.postId,
    workspaceId: env.data.workspaceId,
    authorId: env.data.authorId,
    body: env.data.body,
    mentions: env.data.mentions,
    createdAt: env.ts,
  });
}

// ---------------------------------------------------------------- notifications

/** Cached pages of one inbox view (the shape of TanStack Query's infinite data). */
export interface NotificationPages {
  pages: NotificationPage[];
  pageParams: unknown[];
}

/** Where a notification is: in the inbox, snoozed, or done. */
export type InboxView = 'inbox' | 'snoozed' | 'done';

/** Which notifications an inbox view shows. */
export interface InboxFilter {
  category: Category | null;
  unreadOnly: boolean;
  /** Absent: the inbox itself (neither snoozed nor done). */
  view?: InboxView;
}

/** Where a notification is now. */
export function viewOf(n: Notification): InboxView {
  if (n.doneAt) return 'done';
  if (n.snoozedUntil) return 'snoozed';
  return 'inbox';
}

export function isNotificationEvent(env: EventEnvelope): boolean {
  return env.type.startsWith('notification.') || env.type === 'notifications.read_all';
}

export function matchesFilter(n: Notification, filter: InboxFilter): boolean {
  return (
    (filter.category === null || n.category === filter.category) &&
    (!filter.unreadOnly || n.readAt === null) &&
    viewOf(n) === (filter.view ?? 'inbox')
  );
}

function ms(timestamp: string): number {
  const value = Date.parse(timestamp);
  return Number.isNaN(value) ? 0 : value;
}

/** Newest first: by `createdAt`, then by id. */
function newerFirst(a: Notification, b: Notification): number {
  const diff = ms(b.createdAt) - ms(a.createdAt);
  if (diff !== 0) return diff;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Puts one notification into an inbox view: replaces the one held when this
 * one is newer, or inserts it in order when the view should show it and it
 * falls within the loaded pages. A notification that no longer matches the
 * filter (read, in an unread-only view) stays where it is until the view is
 * reloaded, so it can be marked unread again. One that moved elsewhere
 * (snoozed, done, woken, undone) stays too, with its new state and version, so
 * a late older event cannot bring it back; the view hides it ({@link shownIn}).
 */
export function applyNotification(
  data: NotificationPages | undefined,
  notification: Notification,
  filter: InboxFilter,
): NotificationPages | undefined {
  if (!data) return data;
  for (let p = 0; p < data.pages.length; p++) {
    const i = data.pages[p].items.findIndex((n) => n.id === notification.id);
    if (i < 0) continue;
    if (!isNewer(notification.version, data.pages[p].items[i].version)) return data;
    const items = data.pages[p].items.slice();
    items[i] = notification;
    const pages = data.pages.slice();
    pages[p] = { ...data.pages[p], items };
    return { ...data, pages };
  }
  if (!matchesFilter(notification, filter) || data.pages.length === 0) return data;
  // Find its place: the first page holding an older item; else the end, when nothing older exists.
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p];
    const i = page.items.findIndex((n) => newerFirst(notification, n) < 0);
    const lastPage = p === data.pages.length - 1;
    if (i >= 0 || (lastPage && page.nextCursor === null)) {
      const at = i >= 0 ? i : page.items.length;
      const items = [...page.items.slice(0, at), notification, ...page.items.slice(at)];
      const pages = data.pages.slice();
      pages[p] = { ...page, items };
      return { ...data, pages };
    }
  }
  return data; // Older than everything loaded, and more pages exist: "load more" will bring it.
}

/** The notifications of a view's pages that belong to its view (snoozed, done or neither) now, once each. */
export function shownIn(data: NotificationPages | undefined, filter: InboxFilter): Notification[] {
  const all = data?.pages.flatMap((p) => p.items) ?? [];
  const view = filter.view ?? 'inbox';
  return all.filter((n, i) => viewOf(n) === view && all.findIndex((m) => m.id === n.id) === i);
}

/** Marks read the unread notifications created at or before `watermark` (in `category`, if given). */
export function applyReadAll(
  data: NotificationPages | undefined,
  readAll: { category: Category | null; watermark: string; readAt: string },
): NotificationPages | undefined {
  if (!data) return data;
  const limit = ms(readAll.watermark);
  let changed = false;
  const pages = data.pages.map((page) => {
    let pageChanged = false;
    const items = page.items.map((n) => {
      const affected =
        n.readAt === null && ms(n.createdAt) <= limit && (readAll.category === null || n.category === readAll.category);
      if (!affected) return n;
      pageChanged = true;
      // The server bumps each marked notification's version; the version is
      // kept here so that no later change of it is taken for an older one.
      return { ...n, readAt: readAll.readAt };
    });
    if (!pageChanged) return page;
    changed = true;
    return { ...page, items };
  });
  return changed ? { ...data, pages } : data;
}

/** Applies a notification event to one inbox view. */
export function applyNotificationEvent(
  data: NotificationPages | undefined,
  env: EventEnvelope,
  filter: InboxFilter,
): NotificationPages | undefined {
  if (
    is(env, 'notification.created') ||
    is(env, 'notification.read') ||
    is(env, 'notification.unread') ||
    is(env, 'notification.updated') ||
    is(env, 'notification.snoozed') ||
    is(env, 'notification.woke') ||
    is(env, 'notification.done') ||
    is(env, 'notification.undone')
  ) {
    return applyNotification(data, env.data.notification, filter);
  }
  if (is(env, 'notifications.read_all')) {
    return applyReadAll(data, { category: env.data.category, watermark: env.data.watermark, readAt: env.ts });
  }
  return data;
}

/** The unread counts a notification event carries, if any. */
export function unreadOf(env: EventEnvelope): UnreadCounts | null {
  if (isNotificationEvent(env) && 'unread' in env.data) return env.data.unread;
  return null;
}

export interface CountsUpdate {
  counts: UnreadCounts | undefined;
  /** A version was skipped: some change was missed, fetch the counts again. */
  gap: boolean;
}

/**
 * Takes the server's newer counts. Counts whose `countsVersion` is not newer
 * are ignored; one that skips a number is taken, and flagged as a gap.
 */
export function applyUnreadCounts(current: UnreadCounts | undefined, incoming: UnreadCounts): CountsUpdate {
  if (!current) return { counts: incoming, gap: false };
  if (!isNewer(incoming.countsVersion, current.countsVersion)) return { counts: current, gap: false };
  return { counts: incoming, gap: incoming.countsVersion > current.countsVersion + 1 };
}

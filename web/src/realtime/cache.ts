/**
 * Glue between pushed events and the query cache: picks the queries an event
 * touches and runs the pure functions of `applyEvent.ts` on them.
 */
import type { QueryClient, QueryKey } from '@tanstack/react-query';
import { filterOfKey, keys } from '../api/keys';
import type {
  EventEnvelope,
  MissionDetail,
  MissionList,
  MissionTimeline,
  Notification,
  PeopleOnline,
  PostList,
  Preferences,
  PresenceList,
  UnreadCounts,
  WorkspaceConfigView,
  WorkstationDetail,
  WorkstationList,
} from '../api/types';
import {
  applyCommunityEvent,
  applyMissionDetailEvent,
  applyMissionEvent,
  applyNotification,
  applyNotificationEvent,
  applyPeople,
  applyTimelineEvent,
  applyUnreadCounts,
  applyWorkstationDetailEvent,
  applyWorkstationEvent,
  isMissionEvent,
  isNotificationEvent,
  isWorkstationEvent,
  missionIdsOf,
  missionListMisses,
  unreadOf,
  workstationIdOf,
  workstationListMisses,
  type NotificationPages,
  type SeenEvents,
} from './applyEvent';
import { applyPreferencesEvent, newerPreferences } from './preferences';
import { applyConfigEvent, followsWorkspaceDefault, newerConfig } from './workspaceConfig';

function update<T>(client: QueryClient, key: QueryKey, fn: (data: T | undefined) => T | undefined): void {
  const held = client.getQueryData<T>(key);
  const next = fn(held);
  if (next !== held && next !== undefined) client.setQueryData<T>(key, next);
}

/**
 * Like {@link update}, for data a page may be reloading right now: a fetch in
 * flight may have been answered before this change and would overwrite it when
 * it lands, so it is replaced by a new one.
 */
export function updateFresh<T>(client: QueryClient, key: QueryKey, fn: (data: T | undefined) => T | undefined): void {
  const held = client.getQueryData<T>(key);
  update<T>(client, key, fn);
  if (client.getQueryData<T>(key) !== held && client.isFetching({ queryKey: key, exact: true }) > 0) {
    void client.invalidateQueries({ queryKey: key, exact: true });
  }
}

/** Takes unread counts from the server (a push or an answer); refetches them when a version was skipped. */
export function takeUnreadCounts(client: QueryClient, incoming: UnreadCounts): void {
  const { counts, gap } = applyUnreadCounts(client.getQueryData<UnreadCounts>(keys.unreadCount), incoming);
  if (counts) update<UnreadCounts>(client, keys.unreadCount, () => counts);
  if (gap) void client.invalidateQueries({ queryKey: keys.unreadCount });
}

/** Takes preferences the API returned, unless a newer version was pushed meanwhile. */
export function takePreferences(client: QueryClient, prefs: Preferences): void {
  update<Preferences>(client, keys.preferences, (held) => newerPreferences(held, prefs));
}

/** Takes a workspace's settings the API returned, unless a newer version was pushed meanwhile. */
export function takeWorkspaceConfig(client: QueryClient, view: WorkspaceConfigView): void {
  update<WorkspaceConfigView>(client, keys.workspaceConfig(view.workspaceId), (held) => newerConfig(held, view));
}

/** Puts a notification the API returned into every inbox view. */
export function takeNotification(client: QueryClient, notification: Notification): void {
  for (const [key] of client.getQueriesData<NotificationPages>({ queryKey: keys.notificationsAll })) {
    const filter = filterOfKey(key);
    if (filter) update<NotificationPages>(client, key, (d) => applyNotification(d, notification, filter));
  }
}

export interface ApplyHooks {
  /** A notification arrived that was not applied before. */
  onNotificationCreated?: (notification: Notification) => void;
}

/**
 * Applies one pushed event to the cache. Returns false when the event was
 * dropped as already applied.
 */
export function applyEnvelope(
  client: QueryClient,
  seen: SeenEvents,
  env: EventEnvelope,
  hooks: ApplyHooks = {},
): boolean {
  if (!env || typeof env.id !== 'string' || typeof env.type !== 'string') return false;
  if (!seen.add(env.id)) return false;

  if (isMissionEvent(env)) {
    if (missionListMisses(client.getQueryData<MissionList>(keys.missions), env)) {
      void client.invalidateQueries({ queryKey: keys.missions });
    } else {
      updateFresh<MissionList>(client, keys.missions, (d) => applyMissionEvent(d, env));
    }
  }

  for (const id of missionIdsOf(env)) {
    updateFresh<MissionDetail>(client, keys.mission(id), (d) => applyMissionDetailEvent(d, env));
    updateFresh<MissionTimeline>(client, keys.missionTimeline(id), (d) => applyTimelineEvent(d, env));
  }

  if (env.type === 'community.posted') {
    for (const [key] of client.getQueriesData<PostList>({ queryKey: keys.postsAll })) {
      const workspaceId = key[1];
      if (typeof workspaceId === 'string') updateFresh<PostList>(client, key, (d) => applyCommunityEvent(d, workspaceId, env));
    }
  }

  if (isWorkstationEvent(env)) {
    if (workstationListMisses(client.getQueryData<WorkstationList>(keys.workstations), env)) {
      void client.invalidateQueries({ queryKey: keys.workstations });
    } else {
      updateFresh<WorkstationList>(client, keys.workstations, (d) => applyWorkstationEvent(d, env));
    }
    const id = workstationIdOf(env);
    if (id) updateFresh<WorkstationDetail>(client, keys.workstation(id), (d) => applyWorkstationDetailEvent(d, env));
  }

  if (isNotificationEvent(env)) {
    for (const [key] of client.getQueriesData<NotificationPages>({ queryKey: keys.notificationsAll })) {
      const filter = filterOfKey(key);
      if (filter) updateFresh<NotificationPages>(client, key, (d) => applyNotificationEvent(d, env, filter));
    }
    const counts = unreadOf(env);
    if (counts) takeUnreadCounts(client, counts);
    if (env.type === 'notification.created') hooks.onNotificationCreated?.(env.data.notification);
    // A snooze that ended comes back as a fresh arrival: popped up as if created
    // when it woke (so a pop-up's age is counted from then, not from its creation).
    // So does one that a later event about the same subject replaced (its toast, by id, replaces the last one).
    if (env.type === 'notification.woke' || env.type === 'notification.updated') {
      hooks.onNotificationCreated?.({ ...env.data.notification, createdAt: env.ts });
    }
  }

  // Another tab, the CLI or a script changed the user's preferences: every page applies them now.
  if (env.type === 'preferences.updated') {
    updateFresh<Preferences>(client, keys.preferences, (d) => applyPreferencesEvent(d, env));
  }

  // A workspace admin changed the workspace's settings: its settings form shows
  // them now, and someone without quiet hours of their own reads the quiet hours
  // in force again (the API knows which workspace's default is theirs).
  if (env.type === 'config.updated') {
    const workspaceId = env.data.workspaceId;
    updateFresh<WorkspaceConfigView>(client, keys.workspaceConfig(workspaceId), (d) => applyConfigEvent(d, workspaceId, env));
    if (followsWorkspaceDefault(client.getQueryData<Preferences>(keys.preferences))) {
      void client.invalidateQueries({ queryKey: keys.preferences, exact: true });
    }
  }
  return true;
}

/** The queries a channel keeps fresh: reloaded when its missed events cannot be recovered. */
export function queriesOfChannel(channel: string): QueryKey[] {
  const [namespace, id = ''] = splitChannel(channel);
  switch (namespace) {
    case 'workspace':
      return [
        keys.missions,
        keys.workstations,
        keys.workstationDetails,
        keys.presence,
        keys.postsAll,
        keys.workspaceConfig(id),
        keys.preferences,
      ];
    case 'notifications':
      return [keys.notificationsAll, keys.unreadCount, keys.preferences];
    case 'mission':
      return [keys.missions, keys.mission(id), keys.missionTimeline(id)];
    case 'workstation':
      return [keys.workstation(id), keys.workstations];
    default:
      return [];
  }
}

export function splitChannel(channel: string): [string, string] {
  const colon = channel.indexOf(':');
  return colon < 0 ? [channel, ''] : [channel.slice(0, colon), channel.slice(colon + 1)];
}

export function invalidateChannel(client: QueryClient, channel: string): void {
  for (const queryKey of queriesOfChannel(channel)) void client.invalidateQueries({ queryKey });
}

export function setPeopleOnline(client: QueryClient, workspaceId: string, people: PeopleOnline): void {
  update<PresenceList>(client, keys.presence, (d) => applyPeople(d, workspaceId, people));
}

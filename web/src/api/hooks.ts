/** Queries and mutations of every resource the UI shows. */
import { replaceEqualDeep, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { toast } from 'sonner';
import { api, ApiError, errorMessage, query, setCsrfToken } from './client';
import { keys } from './keys';
import type {
  AccessToken,
  CreatedToken,
  CreateFallback,
  CreateReview,
  EventsPage,
  FallbackCreated,
  Me,
  Mission,
  MissionDetail,
  MissionList,
  MissionTimeline,
  MissionRule,
  Notification,
  NotificationPage,
  Preferences,
  Post,
  PostList,
  PresenceList,
  QuietHours,
  ReviewCreated,
  ReadAllRequest,
  ReadAllResult,
  Stage,
  TokenList,
  UnreadCounts,
  WorkspaceConfig,
  WorkspaceConfigView,
  WorkstationDetail,
  WorkstationList,
  LoginResponse,
} from './types';
import {
  applyWatching,
  applyUnreadCounts,
  TIMELINE_LIMIT,
  upsertMission,
  upsertMissionDetail,
  upsertPost,
  type InboxFilter,
} from '../realtime/applyEvent';
import { takeNotification, takePreferences, takeUnreadCounts, takeWorkspaceConfig, updateFresh } from '../realtime/cache';
import { appendMissionPage } from '../realtime/missionPages';
import { usePollInterval, useRealtime } from '../realtime/RealtimeProvider';

export const PAGE_SIZE = 30;

// ---------------------------------------------------------------- session

/** The signed-in user, or null when signed out. */
export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: async ({ signal }) => {
      try {
        return await api.get<Me>('/api/me', signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: Infinity,
    retry: (count, error) => !(error instanceof ApiError && error.status > 0) && count < 3,
  });
}

export function useLogin() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { username: string; password: string }) => api.post<LoginResponse>('/api/auth/login', body),
    onSuccess: (result) => {
      setCsrfToken(result.csrfToken);
      client.setQueryData(keys.me, result.user);
    },
  });
}

export function useLogout() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api.post<void>('/api/auth/logout'),
    onSettled: () => {
      setCsrfToken(null);
      // Signed out first (the sign-in page replaces the app), then forget the user's data.
      client.setQueryData(keys.me, null);
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== keys.me[0] });
    },
  });
}

// ---------------------------------------------------------------- live lists

/** Missions per page of the board (the API's default page). */
export const MISSIONS_PAGE = 100;

function missionsPath(cursor: string | null): string {
  return `/api/missions${query({ limit: MISSIONS_PAGE, cursor })}`;
}

/**
 * The board's missions, newest first, a page at a time. A reload (after a
 * missed event, or while polling) fetches as many missions as are shown, so
 * pages loaded with {@link useLoadMoreMissions} stay on screen.
 */
export function useMissions() {
  const client = useQueryClient();
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.missions,
    queryFn: async ({ signal }) => {
      const shown = client.getQueryData<MissionList>(keys.missions)?.items.length ?? 0;
      let list = await api.get<MissionList>(missionsPath(null), signal);
      while (list.nextCursor && list.items.length < shown) {
        list = appendMissionPage(list, await api.get<MissionList>(missionsPath(list.nextCursor), signal));
      }
      return list;
    },
    refetchInterval,
  });
}

/** Loads the board's next (older) page of missions. */
export function useLoadMoreMissions() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => {
      const cursor = client.getQueryData<MissionList>(keys.missions)?.nextCursor;
      return cursor ? api.get<MissionList>(missionsPath(cursor)) : null;
    },
    onSuccess: (page) => {
      if (page) client.setQueryData<MissionList>(keys.missions, (held) => appendMissionPage(held, page));
    },
    onError: showError,
  });
}

/** One mission with its watchers and reviews. */
export function useMission(id: string) {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.mission(id),
    queryFn: ({ signal }) => api.get<MissionDetail>(`/api/missions/${encodeURIComponent(id)}`, signal),
    refetchInterval,
  });
}

/** Pages of history read at most for one timeline (each up to 1,000 events). */
const TIMELINE_PAGES = 5;

/** The history of a mission's channel, oldest first; pushes then add to it. */
export function useMissionTimeline(id: string, enabled = true) {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.missionTimeline(id),
    queryFn: async ({ signal }): Promise<MissionTimeline> => {
      const events: MissionTimeline['events'] = [];
      let since = 0;
      for (let i = 0; i < TIMELINE_PAGES; i++) {
        const page = await api.get<EventsPage>(
          `/api/events${query({ channel: `mission:${id}`, since: since || undefined, limit: 1000 })}`,
          signal,
        );
        for (const entry of page.items) events.push(entry.event);
        if (page.items.length === 0 || page.nextSince >= page.offset) break;
        since = page.nextSince;
      }
      return { missionId: id, events: events.slice(-TIMELINE_LIMIT) };
    },
    enabled,
    refetchInterval,
  });
}

/** The community feed of one workspace, newest first. */
export function usePosts(workspaceId: string) {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.posts(workspaceId),
    queryFn: ({ signal }) => api.get<PostList>(`/api/community/posts${query({ workspaceId })}`, signal),
    enabled: !!workspaceId,
    refetchInterval,
  });
}

export function useWorkstations() {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.workstations,
    queryFn: ({ signal }) => api.get<WorkstationList>('/api/workstations', signal),
    refetchInterval,
  });
}

export function useWorkstation(id: string) {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.workstation(id),
    queryFn: ({ signal }) => api.get<WorkstationDetail>(`/api/workstations/${encodeURIComponent(id)}`, signal),
    refetchInterval,
  });
}

export function usePresence() {
  const refetchInterval = usePollInterval();
  return useQuery({
    queryKey: keys.presence,
    queryFn: ({ signal }) => api.get<PresenceList>('/api/presence', signal),
    refetchInterval,
  });
}

/** The unread counts query, without its poll interval. */
export const unreadCountsQuery = {
  queryKey: keys.unreadCount,
  queryFn: ({ signal }: { signal: AbortSignal }) => api.get<UnreadCounts>('/api/notifications/unread-count', signal),
  // A fetched answer goes through the same version check as a push: a refetch
  // in flight when a notification's push raised the counts must not put its
  // older answer back (the badge would stay stale until the next change).
  structuralSharing: (held: unknown, fetched: unknown) => {
    const answer = fetched as UnreadCounts;
    return replaceEqualDeep(held, applyUnreadCounts(held as UnreadCounts | undefined, answer).counts ?? answer);
  },
};

export function useUnreadCounts() {
  const refetchInterval = usePollInterval();
  return useQuery({ ...unreadCountsQuery, refetchInterval });
}

export function useNotifications(filter: InboxFilter) {
  const refetchInterval = usePollInterval();
  return useInfiniteQuery({
    queryKey: keys.notifications(filter),
    queryFn: ({ pageParam, signal }) =>
      api.get<NotificationPage>(
        `/api/notifications${query({
          category: filter.category,
          unread: filter.unreadOnly,
          state: filter.view && filter.view !== 'inbox' ? filter.view : undefined,
          cursor: pageParam,
          limit: PAGE_SIZE,
        })}`,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval,
  });
}

// ---------------------------------------------------------------- mutations

function showError(error: unknown) {
  toast.error(errorMessage(error));
}

export function useCreateMission() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { title: string; workspaceId?: string }) => api.post<Mission>('/api/missions', body),
    onSuccess: (mission) => client.setQueryData<MissionList>(keys.missions, (d) => upsertMission(d, mission)),
  });
}

export function useChangeStage() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, stage }: { id: string; stage: Stage }) =>
      api.post<Mission>(`/api/missions/${encodeURIComponent(id)}/stage`, { stage }),
    onSuccess: (mission) => takeMission(client, mission),
    onError: showError,
  });
}

function takeMission(client: ReturnType<typeof useQueryClient>, mission: Mission, review?: ReviewCreated['review']) {
  client.setQueryData<MissionList>(keys.missions, (d) => upsertMission(d, mission));
  updateFresh<MissionDetail>(client, keys.mission(mission.id), (d) => upsertMissionDetail(d, mission, review));
}

export function useCreateReview(missionId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateReview) =>
      api.post<ReviewCreated>(`/api/missions/${encodeURIComponent(missionId)}/reviews`, body),
    onSuccess: (created) => takeMission(client, created.mission, created.review),
  });
}

export function useCreateFallback(missionId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateFallback) =>
      api.post<FallbackCreated>(`/api/missions/${encodeURIComponent(missionId)}/fallbacks`, body),
    onSuccess: (created) => takeMission(client, created.mission),
  });
}

/** Starts or stops watching a mission as the signed-in user. */
export function useWatchMission(missionId: string, userId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (watching: boolean) =>
      watching
        ? api.post<void>(`/api/missions/${encodeURIComponent(missionId)}/watch`)
        : api.delete(`/api/missions/${encodeURIComponent(missionId)}/watch`),
    onSuccess: (_, watching) =>
      updateFresh<MissionDetail>(client, keys.mission(missionId), (d) => applyWatching(d, userId, watching)),
    onError: showError,
  });
}

export function useCreatePost(workspaceId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: string) => api.post<Post>('/api/community/posts', { body, workspaceId }),
    onSuccess: (post) => updateFresh<PostList>(client, keys.posts(post.workspaceId), (d) => upsertPost(d, post)),
  });
}

export function useSetRead() {
  const client = useQueryClient();
  const { status } = useRealtime();
  return useMutation({
    mutationFn: ({ id, read }: { id: string; read: boolean }) =>
      api.post<Notification>(`/api/notifications/${encodeURIComponent(id)}/${read ? 'read' : 'unread'}`),
    onSuccess: (notification) => {
      takeNotification(client, notification);
      // The new counts come with the push; without the connection, ask for them.
      if (status !== 'live') void client.invalidateQueries({ queryKey: keys.unreadCount });
    },
    onError: showError,
  });
}

/** Snooze until a time, wake now, mark done or bring back from done. */
export type InboxMove = { id: string; to: 'wake' | 'done' | 'undone' } | { id: string; to: 'snooze'; until: string };

export function useMoveNotification() {
  const client = useQueryClient();
  const { status } = useRealtime();
  return useMutation({
    mutationFn: (move: InboxMove) =>
      api.post<Notification>(
        `/api/notifications/${encodeURIComponent(move.id)}/${move.to}`,
        move.to === 'snooze' ? { until: move.until } : undefined,
      ),
    onSuccess: (notification) => {
      takeNotification(client, notification);
      if (status !== 'live') void client.invalidateQueries({ queryKey: keys.unreadCount });
    },
    onError: showError,
  });
}

export function useReadAll() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ReadAllRequest) => api.post<ReadAllResult>('/api/notifications/read-all', body),
    onSuccess: (result) => {
      takeUnreadCounts(client, result.unread);
      void client.invalidateQueries({ queryKey: keys.notificationsAll });
      toast.success(result.marked === 1 ? 'Marked 1 notification read' : `Marked ${result.marked} notifications read`);
    },
    onError: showError,
  });
}

// ---------------------------------------------------------------- settings

export function usePreferences() {
  return useQuery({
    queryKey: keys.preferences,
    queryFn: ({ signal }) => api.get<Preferences>('/api/me/preferences', signal),
  });
}

/** Sets the user's rule for one mission (`mute`, `urgent_only`) or, with null, removes it. */
export function setMissionRule(missionId: string, rule: MissionRule | null): Promise<Preferences> {
  return api.put<Preferences>(`/api/me/preferences/missions/${encodeURIComponent(missionId)}`, { rule });
}

export function useSetMissionRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ missionId, rule }: { missionId: string; rule: MissionRule | null }) => setMissionRule(missionId, rule),
    onSuccess: (prefs, { rule }) => {
      takePreferences(client, prefs);
      toast.success(rule === null ? 'Mission unmuted' : rule === 'mute' ? 'Mission muted' : 'Only urgent notifications of this mission');
    },
    onError: showError,
  });
}

export function useSavePreferences() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (quietHours: QuietHours) => api.put<Preferences>('/api/me/preferences', { quietHours }),
    onSuccess: (prefs) => takePreferences(client, prefs),
  });
}

export function useWorkspaceConfig(workspaceId: string) {
  return useQuery({
    queryKey: keys.workspaceConfig(workspaceId),
    queryFn: ({ signal }) =>
      api.get<WorkspaceConfigView>(`/api/workspaces/${encodeURIComponent(workspaceId)}/config`, signal),
  });
}

/** Replaces a workspace's settings (its admins only). */
export function useSaveWorkspaceConfig(workspaceId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (config: WorkspaceConfig) =>
      api.put<WorkspaceConfigView>(`/api/workspaces/${encodeURIComponent(workspaceId)}/config`, config),
    onSuccess: (view) => takeWorkspaceConfig(client, view),
  });
}

export function useTokens() {
  return useQuery({
    queryKey: keys.tokens,
    queryFn: ({ signal }) => api.get<TokenList>('/api/tokens', signal),
  });
}

export function useCreateToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => api.post<CreatedToken>('/api/tokens', { name }),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useRevokeToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (token: AccessToken) => api.delete(`/api/tokens/${encodeURIComponent(token.id)}`),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.tokens }),
    onError: showError,
  });
}

// ---------------------------------------------------------------- people

/**
 * A person's name by user id, from what the UI knows: the signed-in user and
 * everyone online in their workspaces. Others show as "a member".
 */
export function useMemberNames(me: Me): (id: string) => string {
  const presence = usePresence();
  return useMemo(() => {
    const names = new Map<string, string>([[me.id, me.displayName || me.name]]);
    for (const summary of presence.data?.items ?? []) {
      for (const user of summary.people.users) if (!names.has(user.id)) names.set(user.id, user.name);
    }
    return (id: string) => names.get(id) ?? 'a member';
  }, [me, presence.data]);
}

import type { Category } from './types';
import type { InboxFilter } from '../realtime/applyEvent';

/** Query keys of every cached resource. */
export const keys = {
  me: ['me'] as const,
  missions: ['missions'] as const,
  missionDetails: ['mission'] as const,
  mission: (id: string) => ['mission', id] as const,
  missionTimelines: ['mission-timeline'] as const,
  missionTimeline: (id: string) => ['mission-timeline', id] as const,
  postsAll: ['posts'] as const,
  posts: (workspaceId: string) => ['posts', workspaceId] as const,
  workstations: ['workstations'] as const,
  workstationDetails: ['workstation'] as const,
  workstation: (id: string) => ['workstation', id] as const,
  presence: ['presence'] as const,
  notificationsAll: ['notifications'] as const,
  notifications: (filter: InboxFilter) =>
    ['notifications', filter.category ?? 'all', filter.unreadOnly, filter.view ?? 'inbox'] as const,
  unreadCount: ['unread-count'] as const,
  notificationHistory: (id: string, version: number) => ['notification-history', id, version] as const,
  preferences: ['preferences'] as const,
  workspaceConfigs: ['workspace-config'] as const,
  workspaceConfig: (workspaceId: string) => ['workspace-config', workspaceId] as const,
  tokens: ['tokens'] as const,
};

/** The inbox filter a `['notifications', …]` key stands for. */
export function filterOfKey(key: readonly unknown[]): InboxFilter | null {
  if (key[0] !== 'notifications' || key.length < 3) return null;
  const category = key[1] === 'all' ? null : (key[1] as Category);
  const view = key[3] === 'snoozed' || key[3] === 'done' ? key[3] : 'inbox';
  return { category, unreadOnly: key[2] === true, view };
}

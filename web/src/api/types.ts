/**
 * API types of Solo Realtime.
 *
 * These mirror the server's Rust types (the views in `solo-server`'s routes and
 * the event envelope in `solo-domain`), field for field, as they appear on the
 * wire (camelCase JSON, timestamps as RFC 3339 strings). They are written by
 * hand for now and will be generated from the Rust types; until then, change
 * them only together with the server.
 */

/** Every error body: `{code, message}`; `message` is meant for people. */
export interface ErrorBody {
  code: string;
  message: string;
}

// ---------------------------------------------------------------- accounts

export type Role = 'admin' | 'member' | string;

export interface WorkspaceView {
  id: string;
  slug: string;
  name: string;
  role: Role;
}

export interface Me {
  id: string;
  name: string;
  displayName: string;
  avatarUrl: string | null;
  workspaces: WorkspaceView[];
}

export interface LoginRequest {
  username: string;
  password: string;
}

export interface LoginResponse {
  user: Me;
  csrfToken: string;
}

// ---------------------------------------------------------------- missions

export const STAGES = ['backlog', 'spec', 'build', 'review', 'done'] as const;
export type Stage = (typeof STAGES)[number];

export interface Mission {
  id: string;
  title: string;
  stage: Stage;
  version: number;
  workspaceId: string;
  ownerId: string;
  createdAt: string;
  updatedAt: string;
}

export interface MissionList {
  items: Mission[];
}

export interface CreateMission {
  title: string;
  /** Needed only when the user belongs to several workspaces. */
  workspaceId?: string;
}

export interface ChangeStage {
  stage: Stage;
}

// ---------------------------------------------------------------- workstations

export type WorkstationStatus = 'online' | 'degraded' | 'offline';
export type AgentStatus = 'idle' | 'working' | 'waiting_review' | 'error';

export interface Agent {
  id: string;
  name: string;
  status: AgentStatus;
  missionId?: string | null;
  version: number;
  updatedAt: string;
}

export interface Workstation {
  id: string;
  name: string;
  status: WorkstationStatus;
  workspaceId: string;
  ownerId: string;
  version: number;
  lastHeartbeatAt: string | null;
  createdAt: string;
  agents: Agent[];
}

export interface WorkstationList {
  items: Workstation[];
}

export interface WorkstationDetail extends Workstation {
  /** The latest events about this workstation, newest first. */
  recentEvents: EventEnvelope[];
}

// ---------------------------------------------------------------- presence

export interface WorkstationCounts {
  total: number;
  online: number;
  degraded: number;
  offline: number;
}

export interface AgentCounts {
  total: number;
  idle: number;
  working: number;
  waitingReview: number;
  error: number;
}

export interface OnlineUser {
  id: string;
  name: string;
}

export interface PeopleOnline {
  online: number;
  users: OnlineUser[];
}

export interface PresenceSummary {
  workspaceId: string;
  workstations: WorkstationCounts;
  agents: AgentCounts;
  people: PeopleOnline;
}

export interface PresenceList {
  items: PresenceSummary[];
}

// ---------------------------------------------------------------- notifications

export const CATEGORIES = ['missions', 'workstations', 'community', 'system'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Severity = 'info' | 'warning' | 'urgent';

export interface Notification {
  id: string;
  userId: string;
  category: Category;
  /** What caused it: an event type (`mission.stage_changed`, …) or `direct`. */
  type: string;
  title: string;
  body: string | null;
  link: string | null;
  severity: Severity;
  /** Arrived during quiet hours: no toast. */
  quiet: boolean;
  version: number;
  sourceEventId: string | null;
  createdAt: string;
  readAt: string | null;
}

export interface NotificationPage {
  items: Notification[];
  nextCursor: string | null;
  unreadCount: number;
}

export interface ByCategory {
  missions: number;
  workstations: number;
  community: number;
  system: number;
}

export interface UnreadCounts {
  total: number;
  byCategory: ByCategory;
  /** Grows by one per change of the counts. */
  countsVersion: number;
}

export interface ReadAllRequest {
  category?: Category;
  /** RFC 3339 `createdAt` of the newest notification the user has seen. */
  watermark?: string;
}

export interface ReadAllResult {
  marked: number;
  unread: UnreadCounts;
}

export interface QuietHours {
  enabled: boolean;
  /** `HH:MM`, 24-hour. */
  start: string;
  /** `HH:MM`, 24-hour. */
  end: string;
  /** IANA time zone, e.g. `Europe/Paris`. */
  timezone: string;
  allowUrgent: boolean;
}

export interface Preferences {
  quietHours: QuietHours;
}

// ---------------------------------------------------------------- tokens

export interface AccessToken {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface TokenList {
  items: AccessToken[];
}

export interface CreateToken {
  name: string;
}

export interface CreatedToken extends AccessToken {
  /** The secret, shown once. */
  token: string;
}

// ---------------------------------------------------------------- realtime

export interface ConnectionToken {
  token: string;
  expiresAt: string;
  /** The WebSocket URL to connect to. */
  url: string;
}

export type Actor = { kind: 'user'; id: string } | { kind: 'system' };

export type SubjectKind = 'mission' | 'workstation' | 'agent' | 'post' | 'notification' | 'inbox';

export interface Subject {
  kind: SubjectKind;
  /** For agents: `{workstationId}/{agentId}`. */
  id: string;
}

/** One agent as reported in a heartbeat. */
export interface AgentState {
  id: string;
  name: string;
  status: AgentStatus;
  missionId?: string | null;
}

export interface NotificationChanged {
  userId: string;
  notification: Notification;
  unread: UnreadCounts;
}

export interface InboxReadAll {
  userId: string;
  category: Category | null;
  /** Notifications created after this instant stayed unread. */
  watermark: string;
  marked: number;
  unread: UnreadCounts;
}

/** Event type → its `data`. */
export interface EventDataMap {
  'mission.created': { workspaceId: string; title: string; stage: Stage; ownerId: string };
  'mission.stage_changed': { workspaceId: string; title: string; from: Stage; to: Stage };
  'review.decided': {
    workspaceId: string;
    reviewId: string;
    reviewerId: string;
    decision: string;
    comment?: string;
  };
  'fallback.generated': { workspaceId: string; fallbackId: string; reason: string; summary: string };
  'workstation.created': { workspaceId: string; name: string; ownerId: string };
  'workstation.heartbeat': { workspaceId: string; status: WorkstationStatus; agents: AgentState[] };
  'workstation.status_changed': {
    workspaceId: string;
    workstationId: string;
    name: string;
    from: WorkstationStatus;
    to: WorkstationStatus;
  };
  'agent.status_changed': {
    workspaceId: string;
    workstationId: string;
    agentId: string;
    name: string;
    /** Null when the agent is reported for the first time. */
    from: AgentStatus | null;
    to: AgentStatus;
    missionId?: string | null;
  };
  'community.posted': { workspaceId: string; postId: string; authorId: string; body: string; mentions: string[] };
  'notification.created': NotificationChanged;
  'notification.read': NotificationChanged;
  'notification.unread': NotificationChanged;
  'notifications.read_all': InboxReadAll;
}

export type EventType = keyof EventDataMap;

interface EnvelopeBase {
  /** Unique: an id already applied is dropped. */
  id: string;
  /** The subject's version after this change; grows by one per change. */
  version: number;
  ts: string;
  traceId: string;
  actor: Actor;
  subject: Subject;
}

/** A versioned, traceable record of one state change (the payload of every publication). */
export type EventEnvelope = {
  [T in EventType]: EnvelopeBase & { type: T; data: EventDataMap[T] };
}[EventType];

export type EnvelopeOf<T extends EventType> = Extract<EventEnvelope, { type: T }>;

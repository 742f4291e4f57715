// Generated from the server's Rust types by `crates/solo-server/src/typescript.rs`.
// Do not edit: run `SOLO_UPDATE_TYPESCRIPT=1 cargo test -p solo-server typescript`.

export type UserId = string;

export type WorkspaceId = string;

export type MissionId = string;

export type WorkstationId = string;

export type ReviewId = string;

export type FallbackId = string;

export type PostId = string;

export type TokenId = string;

export type NotificationId = string;

export type Stage = "backlog" | "spec" | "build" | "review" | "done";

export type ReviewDecision = "approved" | "changes_requested" | "rejected";

export type WorkstationStatus = "online" | "degraded" | "offline";

export type AgentStatus = "idle" | "working" | "waiting_review" | "error";

export type Category = "missions" | "workstations" | "community" | "system";

export type Severity = "info" | "warning" | "urgent";

export type QuietHours = { enabled: boolean, 
/**
 * Local start time, `HH:MM` (24-hour).
 */
start: string, 
/**
 * Local end time, `HH:MM` (24-hour).
 */
end: string, 
/**
 * IANA time zone, e.g. `Europe/Paris`.
 */
timezone: string, 
/**
 * Let `urgent` notifications through as not quiet.
 */
allowUrgent: boolean, };

export type Actor = { "kind": "user", id: UserId, } | { "kind": "system" };

export type SubjectKind = "mission" | "workstation" | "agent" | "post" | "notification" | "inbox" | "preferences" | "workspace_config" | "publication";

export type Subject = { kind: SubjectKind, id: string, };

export type AgentState = { id: string, name: string, status: AgentStatus, missionId?: MissionId | null, };

export type EventPayload = { "type": "mission.created", "data": { workspaceId: WorkspaceId, title: string, stage: Stage, ownerId: UserId, } } | { "type": "mission.stage_changed", "data": { workspaceId: WorkspaceId, title: string, from: Stage, to: Stage, } } | { "type": "review.decided", "data": { workspaceId: WorkspaceId, reviewId: ReviewId, reviewerId: UserId, decision: ReviewDecision, comment?: string | null, } } | { "type": "fallback.generated", "data": { workspaceId: WorkspaceId, fallbackId: FallbackId, reason: string, summary: string, } } | { "type": "workstation.created", "data": { workspaceId: WorkspaceId, name: string, ownerId: UserId, } } | { "type": "workstation.heartbeat", "data": { workspaceId: WorkspaceId, status: WorkstationStatus, agents: Array<AgentState>, } } | { "type": "workstation.status_changed", "data": { workspaceId: WorkspaceId, workstationId: WorkstationId, name: string, from: WorkstationStatus, to: WorkstationStatus, } } | { "type": "agent.status_changed", "data": { workspaceId: WorkspaceId, workstationId: WorkstationId, agentId: string, name: string, 
/**
 * `None` when the agent is reported for the first time.
 */
from: AgentStatus | null, to: AgentStatus, missionId?: MissionId | null, } } | { "type": "community.posted", "data": { workspaceId: WorkspaceId, postId: PostId, authorId: UserId, body: string, mentions: Array<UserId>, } } | { "type": "notification.created", "data": NotificationChanged } | { "type": "notification.read", "data": NotificationChanged } | { "type": "notification.unread", "data": NotificationChanged } | { "type": "notification.updated", "data": NotificationChanged } | { "type": "notification.snoozed", "data": NotificationChanged } | { "type": "notification.woke", "data": NotificationChanged } | { "type": "notification.done", "data": NotificationChanged } | { "type": "notification.undone", "data": NotificationChanged } | { "type": "notifications.read_all", "data": InboxReadAll } | { "type": "preferences.updated", "data": PreferencesChanged } | { "type": "config.updated", "data": WorkspaceConfigChanged } | { "type": "server.published", "data": ServerPublication };

export type EventEnvelope = { 
/**
 * Unique (UUIDv7): consumers drop an id they have already applied.
 */
id: string, 
/**
 * The subject's version after this change; strictly increasing per subject.
 */
version: number, 
/**
 * When the change was committed, in Unix milliseconds (RFC 3339 on the wire).
 */
ts: string, 
/**
 * The W3C trace id of the request that caused the change (32 hex digits).
 */
traceId: string, actor: Actor, subject: Subject, } & ({ "type": "mission.created", "data": { workspaceId: WorkspaceId, title: string, stage: Stage, ownerId: UserId, } } | { "type": "mission.stage_changed", "data": { workspaceId: WorkspaceId, title: string, from: Stage, to: Stage, } } | { "type": "review.decided", "data": { workspaceId: WorkspaceId, reviewId: ReviewId, reviewerId: UserId, decision: ReviewDecision, comment?: string | null, } } | { "type": "fallback.generated", "data": { workspaceId: WorkspaceId, fallbackId: FallbackId, reason: string, summary: string, } } | { "type": "workstation.created", "data": { workspaceId: WorkspaceId, name: string, ownerId: UserId, } } | { "type": "workstation.heartbeat", "data": { workspaceId: WorkspaceId, status: WorkstationStatus, agents: Array<AgentState>, } } | { "type": "workstation.status_changed", "data": { workspaceId: WorkspaceId, workstationId: WorkstationId, name: string, from: WorkstationStatus, to: WorkstationStatus, } } | { "type": "agent.status_changed", "data": { workspaceId: WorkspaceId, workstationId: WorkstationId, agentId: string, name: string, 
/**
 * `None` when the agent is reported for the first time.
 */
from: AgentStatus | null, to: AgentStatus, missionId?: MissionId | null, } } | { "type": "community.posted", "data": { workspaceId: WorkspaceId, postId: PostId, authorId: UserId, body: string, mentions: Array<UserId>, } } | { "type": "notification.created", "data": NotificationChanged } | { "type": "notification.read", "data": NotificationChanged } | { "type": "notification.unread", "data": NotificationChanged } | { "type": "notification.updated", "data": NotificationChanged } | { "type": "notification.snoozed", "data": NotificationChanged } | { "type": "notification.woke", "data": NotificationChanged } | { "type": "notification.done", "data": NotificationChanged } | { "type": "notification.undone", "data": NotificationChanged } | { "type": "notifications.read_all", "data": InboxReadAll } | { "type": "preferences.updated", "data": PreferencesChanged } | { "type": "config.updated", "data": WorkspaceConfigChanged } | { "type": "server.published", "data": ServerPublication });

export type NotificationView = { id: NotificationId, userId: UserId, category: Category, 
/**
 * What caused it: an event type (`mission.stage_changed`, …) or `direct`.
 */
type: string, title: string, body: string | null, link: string | null, severity: Severity, 
/**
 * True when it arrived during the user's quiet hours: no toast, no bell.
 */
quiet: boolean, 
/**
 * +1 on every change (read, unread, snoozed, woken, done, undone).
 */
version: number, 
/**
 * The event that caused it, if any.
 */
sourceEventId: string | null, createdAt: string, readAt: string | null, 
/**
 * Out of the inbox until this instant, then back unread (with a fresh toast).
 */
snoozedUntil: string | null, 
/**
 * When it was marked done: out of the inbox, listed under Done.
 */
doneAt: string | null, 
/**
 * How many later events about the same subject replaced it while it was
 * unread ("updated ×N"; 0: never). Its history lists them.
 */
updates: number, 
/**
 * When the latest of them replaced it.
 */
updatedAt: string | null, };

export type ByCategory = { missions: number, workstations: number, community: number, system: number, };

export type UnreadCounts = { total: number, byCategory: ByCategory, countsVersion: number, };

export type NotificationChanged = { userId: UserId, notification: NotificationView, unread: UnreadCounts, };

export type MissionRule = "mute" | "urgent_only";

export type Surfaces = { toast: boolean, 
/**
 * Off: a rule's notifications of this category are not created at all.
 */
inbox: boolean, cli: boolean, };

export type CategorySurfaces = { missions: Surfaces, workstations: Surfaces, community: Surfaces, system: Surfaces, };

export type PreferencesChanged = { userId: UserId, 
/**
 * The quiet hours in force for the user: their own when `quietHoursSet`,
 * else the default that applies to them (their workspace's, or the server's).
 */
quietHours: QuietHours, 
/**
 * Whether the user set quiet hours of their own (then no default applies to them any more).
 */
quietHoursSet: boolean, 
/**
 * Per mission id: `mute` or `urgent_only` (a mission not listed follows the rules).
 */
missionRules: Record<string, MissionRule>, 
/**
 * Where each category's notifications show.
 */
surfaces: CategorySurfaces, };

export type InboxReadAll = { userId: UserId, 
/**
 * Only this category was marked, if given.
 */
category: Category | null, 
/**
 * Notifications created after this instant (Unix ms, RFC 3339 on the wire) stayed unread.
 */
watermark: string, 
/**
 * How many were marked read.
 */
marked: number, unread: UnreadCounts, };

export type WorkspaceConfig = { 
/**
 * Quiet hours of the members who set none of their own; null: the
 * server's default (`SOLO_DEFAULT_QUIET_HOURS`) applies to them.
 */
defaultQuietHours: QuietHours | null, };

export type WorkspaceConfigChanged = { workspaceId: WorkspaceId, 
/**
 * The whole document, not only what changed.
 */
config: WorkspaceConfig, };

export type ServerPublication = { 
/**
 * Every channel it was published on (one for `publish`, several for `broadcast`).
 */
channels: Array<string>, 
/**
 * The JSON the backend sent, as it sent it.
 */
data: unknown, 
/**
 * The backend's tags, if it gave any.
 */
tags?: { [key in string]: string }, };

export type ErrorBody = { 
/**
 * Stable, machine-readable code (e.g. `not_found`, `invalid_transition`).
 */
code: string, 
/**
 * Human-readable explanation.
 */
message: string, };

export type LoginRequest = { username: string, password: string, };

export type WorkspaceView = { id: string, slug: string, name: string, role: string, };

export type Me = { id: string, name: string, displayName: string, avatarUrl: string | null, workspaces: Array<WorkspaceView>, };

export type LoginResponse = { user: Me, 
/**
 * Send this in `X-CSRF-Token` with every state-changing request made with the session cookie.
 */
csrfToken: string, };

export type CreateToken = { 
/**
 * A label to recognise the token by, e.g. "laptop CLI".
 */
name: string, 
/**
 * Default `["read", "write"]`; known scopes: `read`, `write`, `notifications:write`.
 */
scopes?: Array<string>, 
/**
 * Days until the token expires; none means it never expires.
 */
expiresInDays?: number, };

export type TokenView = { id: string, name: string, scopes: Array<string>, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null, };

export type TokenList = { items: Array<TokenView>, };

export type CreatedToken = { 
/**
 * The secret, shown this once: only its hash is kept.
 */
token: string, id: string, name: string, scopes: Array<string>, createdAt: string, expiresAt: string | null, revokedAt: string | null, lastUsedAt: string | null, };

export type CreateMission = { title: string, 
/**
 * Default: the caller's only workspace.
 */
workspaceId?: WorkspaceId, 
/**
 * Members to notify of changes besides the owner.
 */
watcherIds: Array<UserId>, };

export type ChangeStage = { stage: Stage, 
/**
 * When given, the change is refused with 409 if the mission is no longer at this version.
 */
expectedVersion?: number, };

export type CreateReview = { decision: ReviewDecision, comment?: string, };

export type CreateFallback = { 
/**
 * Why the fallback was needed (e.g. "agent crashed").
 */
reason: string, 
/**
 * What the fallback plan is.
 */
summary: string, };

export type MissionView = { id: MissionId, title: string, stage: Stage, version: number, workspaceId: WorkspaceId, ownerId: UserId, createdAt: string, updatedAt: string, };

export type MissionDetail = { watcherIds: Array<UserId>, reviews: Array<ReviewView>, id: MissionId, title: string, stage: Stage, version: number, workspaceId: WorkspaceId, ownerId: UserId, createdAt: string, updatedAt: string, };

export type MissionList = { 
/**
 * Newest first.
 */
items: Array<MissionView>, 
/**
 * Pass as `cursor` for the next (older) page; null on the last page.
 */
nextCursor: string | null, };

export type ReviewView = { id: string, missionId: MissionId, reviewerId: UserId, decision: ReviewDecision, comment: string | null, createdAt: string, };

export type ReviewCreated = { review: ReviewView, mission: MissionView, };

export type FallbackView = { id: string, missionId: MissionId, reason: string, summary: string, createdBy: UserId, createdAt: string, };

export type FallbackCreated = { fallback: FallbackView, mission: MissionView, };

export type CreateWorkstation = { name: string, workspaceId?: WorkspaceId, };

export type Heartbeat = { agents: Array<AgentState>, };

export type AgentView = { id: string, name: string, status: AgentStatus, missionId: MissionId | null, version: number, updatedAt: string, };

export type WorkstationView = { id: WorkstationId, name: string, status: WorkstationStatus, workspaceId: WorkspaceId, ownerId: UserId, version: number, lastHeartbeatAt: string | null, createdAt: string, agents: Array<AgentView>, };

export type WorkstationList = { items: Array<WorkstationView>, };

export type WorkstationDetail = { 
/**
 * The latest events about this workstation, newest first.
 */
recentEvents: Array<EventEnvelope>, id: WorkstationId, name: string, status: WorkstationStatus, workspaceId: WorkspaceId, ownerId: UserId, version: number, lastHeartbeatAt: string | null, createdAt: string, agents: Array<AgentView>, };

export type WorkstationCounts = { total: number, online: number, degraded: number, offline: number, };

export type AgentCounts = { total: number, idle: number, working: number, waitingReview: number, error: number, };

export type OnlineUser = { id: string, name: string, };

export type PeopleOnline = { 
/**
 * Distinct users with the web UI or CLI connected (per user, not per tab).
 */
online: number, users: Array<OnlineUser>, };

export type PresenceSummary = { workspaceId: WorkspaceId, workstations: WorkstationCounts, 
/**
 * Agents on workstations that are not offline.
 */
agents: AgentCounts, people: PeopleOnline, };

export type PresenceList = { items: Array<PresenceSummary>, };

export type CreatePost = { 
/**
 * Text; `@name` mentions of workspace members notify them.
 */
body: string, workspaceId?: WorkspaceId, };

export type PostView = { id: PostId, workspaceId: WorkspaceId, authorId: UserId, body: string, mentions: Array<UserId>, createdAt: string, };

export type PostList = { items: Array<PostView>, };

export type HistoryEntry = { offset: number, event: EventEnvelope, };

export type EventsPage = { channel: string, 
/**
 * The stream's epoch; it changes only when history is lost.
 */
epoch: string, 
/**
 * The stream's latest offset.
 */
offset: number, items: Array<HistoryEntry>, 
/**
 * Pass as `since` next time.
 */
nextSince: number, 
/**
 * True when publications after `since` are no longer kept (or the epoch
 * changed): the client missed events and must reload its state.
 */
reset: boolean, };

export type CreateNotification = { userId: UserId, category: Category, title: string, body?: string, severity?: Severity, 
/**
 * A path in the web UI (`/missions/m_…`) or an http(s) URL.
 */
link?: string, };

export type ReadAll = { 
/**
 * Only this category.
 */
category?: Category, 
/**
 * Only notifications created at or before this instant (RFC 3339): pass the
 * `createdAt` of the newest notification the user saw, so ones that arrived
 * meanwhile stay unread. Default: now.
 */
watermark?: string, };

export type Snooze = { 
/**
 * When the notification comes back (RFC 3339), in the future and at most a year ahead.
 */
until: string, };

export type ExplainedEvent = { id: string, type: string, traceId: string, ts: string, actor: Actor, };

export type Explanation = { notificationId: NotificationId, 
/**
 * The event that caused it: null for one sent by name, or once the event log no longer keeps it.
 */
event: ExplainedEvent | null, 
/**
 * The rule that chose the caller: `owner`, `watcher`, `mention`,
 * `workstation_owner`, `direct` or `digest`; null for a notification older than decision records.
 */
rule: string | null, 
/**
 * What the quiet hours decided: `toast`, `quiet` or `urgent_bypass`.
 */
delivery: string | null, 
/**
 * The quiet-hours window consulted (`22:00-07:00 Europe/Paris`), when the caller had one on.
 */
quietHours: string | null, 
/**
 * How many later events about the same subject replaced it while unread.
 */
updates: number, 
/**
 * The same, in sentences.
 */
summary: Array<string>, };

export type EventExplanation = { eventId: string, type: string, userId: UserId, 
/**
 * `sent`, `superseded`, `never_notifies`, `own_action`, `not_chosen`,
 * `muted`, `urgent_only`, `inbox_off` or `different_then`.
 */
outcome: string, 
/**
 * The notification it made (for `sent` and `superseded`).
 */
notificationId: NotificationId | null, 
/**
 * The same, in sentences.
 */
summary: Array<string>, };

export type SetMissionRule = { 
/**
 * `mute`, `urgent_only`, or null to follow the rules again.
 */
rule: MissionRule | null, };

export type NotificationHistory = { notificationId: NotificationId, 
/**
 * Its source events, oldest first: those later events replaced, then the
 * one it shows now. Events past the event log's retention are left out;
 * empty for a direct notification.
 */
items: Array<EventEnvelope>, };

export type NotificationPage = { items: Array<NotificationView>, 
/**
 * Pass as `cursor` for the next (older) page; null on the last page.
 */
nextCursor: string | null, 
/**
 * Unread notifications in the whole inbox (all categories).
 */
unreadCount: number, };

export type ReadAllResult = { marked: number, unread: UnreadCounts, };

export type Preferences = { quietHours: QuietHours, };

export type PreferencesView = { 
/**
 * The quiet hours in force: the user's own when `quietHoursSet`, else the default that applies to them.
 */
quietHours: QuietHours, 
/**
 * How many times the user changed their preferences (quiet hours or mission rules; 0: never).
 */
version: number, 
/**
 * Whether the user set quiet hours of their own (else their workspace's default, or the server's, applies).
 */
quietHoursSet: boolean, 
/**
 * Per mission id: `mute` (nothing from it, even as its owner) or `urgent_only`.
 */
missionRules: Record<string, MissionRule>, 
/**
 * Where each category's notifications show: toast (and desktop), inbox, CLI.
 */
surfaces: CategorySurfaces, };

export type WorkspaceConfigView = { workspaceId: WorkspaceId, config: WorkspaceConfig, 
/**
 * How many times the settings changed (0: never).
 */
version: number, };

export type ConnectionToken = { 
/**
 * HS256 JWT for the WebSocket `connect` command.
 */
token: string, expiresAt: string, 
/**
 * The WebSocket URL to connect to.
 */
url: string, };

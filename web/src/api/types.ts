/**
 * API types of Solo Realtime, under the names the app uses.
 *
 * Every shape comes from the package `@solo/domain-schema`
 * (`packages/domain-schema`), generated from the server's Rust types (a server
 * test fails when it is stale), so the wire contract is written once. This
 * file only gives friendlier names and a few derived types.
 */
import type * as G from '@solo/domain-schema';

export type ErrorBody = G.ErrorBody;

// ---------------------------------------------------------------- accounts

export type Role = 'admin' | 'member' | string;
export type WorkspaceView = G.WorkspaceView;
export type Me = G.Me;
export type LoginRequest = G.LoginRequest;
export type LoginResponse = G.LoginResponse;

// ---------------------------------------------------------------- missions

export type Stage = G.Stage;
/** The board's columns, in order. */
export const STAGES: readonly Stage[] = ['backlog', 'spec', 'build', 'review', 'done'];
export type Mission = G.MissionView;
export type MissionList = G.MissionList;
export type CreateMission = G.CreateMission;
export type ChangeStage = G.ChangeStage;
export type MissionDetail = G.MissionDetail;
export type ReviewDecision = G.ReviewDecision;
export type Review = G.ReviewView;
export type CreateReview = G.CreateReview;
export type ReviewCreated = G.ReviewCreated;
export type Fallback = G.FallbackView;
export type CreateFallback = G.CreateFallback;
export type FallbackCreated = G.FallbackCreated;

// ---------------------------------------------------------------- community

export type Post = G.PostView;
export type PostList = G.PostList;
export type CreatePost = G.CreatePost;

// ---------------------------------------------------------------- workstations and presence

export type WorkstationStatus = G.WorkstationStatus;
export type AgentStatus = G.AgentStatus;
export type Agent = G.AgentView;
export type Workstation = G.WorkstationView;
export type WorkstationList = G.WorkstationList;
export type WorkstationDetail = G.WorkstationDetail;
export type WorkstationCounts = G.WorkstationCounts;
export type AgentCounts = G.AgentCounts;
export type OnlineUser = G.OnlineUser;
export type PeopleOnline = G.PeopleOnline;
export type PresenceSummary = G.PresenceSummary;
export type PresenceList = G.PresenceList;

// ---------------------------------------------------------------- notifications

export type Category = G.Category;
/** The inbox categories, in tab order. */
export const CATEGORIES: readonly Category[] = ['missions', 'workstations', 'community', 'system'];
export type Severity = G.Severity;
export type Notification = G.NotificationView;
export type NotificationPage = G.NotificationPage;
export type ByCategory = G.ByCategory;
export type UnreadCounts = G.UnreadCounts;
export type ReadAllRequest = G.ReadAll;
export type ReadAllResult = G.ReadAllResult;
export type QuietHours = G.QuietHours;
/** The preferences as the API returns them, with their version (`preferences.updated` carries the same). */
export type Preferences = G.PreferencesView;
export type MissionRule = G.MissionRule;
export type Explanation = G.Explanation;
export type Surfaces = G.Surfaces;
export type CategorySurfaces = G.CategorySurfaces;
export type PreferencesChanged = G.PreferencesChanged;

// ---------------------------------------------------------------- workspace settings

/** A workspace's settings; unset fields are null. */
export type WorkspaceConfig = G.WorkspaceConfig;
/** The settings as the API returns them, with their version (`config.updated` carries the same). */
export type WorkspaceConfigView = G.WorkspaceConfigView;
export type WorkspaceConfigChanged = G.WorkspaceConfigChanged;

// ---------------------------------------------------------------- tokens and realtime

export type AccessToken = G.TokenView;
export type TokenList = G.TokenList;
export type CreateToken = G.CreateToken;
export type CreatedToken = G.CreatedToken;
export type ConnectionToken = G.ConnectionToken;

// ---------------------------------------------------------------- events

export type Actor = G.Actor;
export type SubjectKind = G.SubjectKind;
export type Subject = G.Subject;
export type AgentState = G.AgentState;
export type NotificationChanged = G.NotificationChanged;
export type InboxReadAll = G.InboxReadAll;

/** A versioned, traceable record of one state change (the payload of every publication). */
export type EventEnvelope = G.EventEnvelope;
export type EventType = EventEnvelope['type'];
export type EnvelopeOf<T extends EventType> = Extract<EventEnvelope, { type: T }>;
/** Event type → its `data`. */
export type EventDataMap = { [E in EventEnvelope as E['type']]: E['data'] };
/** A page of a channel's history (`GET /api/events`). */
export type EventsPage = G.EventsPage;

/** The mission page's timeline: the events of one mission's channel, oldest first. */
export interface MissionTimeline {
  missionId: string;
  events: EventEnvelope[];
}

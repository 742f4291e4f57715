//! Notification categories and severities, shared by the inbox, the web UI and the CLI.

use serde::{Deserialize, Serialize};

/// The inbox tab a notification belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Missions,
    Workstations,
    Community,
    System,
}

impl Category {
    pub const ALL: [Category; 4] = [Self::Missions, Self::Workstations, Self::Community, Self::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Missions => "missions",
            Category::Workstations => "workstations",
            Category::Community => "community",
            Category::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// How loudly a notification asks for attention. `urgent` may pass quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Urgent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Urgent => "urgent",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Urgent].into_iter().find(|s| s.as_str() == value)
    }
}

/// Quiet hours: a daily window, in the user's time zone, during which
/// notifications are still stored, counted and pushed, but flagged `quiet` so
/// surfaces do not toast or ring. The window may cross midnight; the start
/// minute is inside it and the end minute is not (22:00–07:00 is quiet at 22:00
/// and 06:59, not at 07:00). Urgent notifications pass when `allow_urgent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHours {
    pub enabled: bool,
    /// Local start time, `HH:MM` (24-hour).
    #[schema(example = "22:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Local end time, `HH:MM` (24-hour).
    #[schema(example = "07:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
    /// Let `urgent` notifications through as not quiet.
    pub allow_urgent: bool,
}

/// Why quiet hours are invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuietHoursError {
    #[error("`{0}` is not a time of day: use HH:MM from 00:00 to 23:59")]
    BadTime(String),
    #[error("`{0}` is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)")]
    BadZone(String),
    #[error("start and end must differ")]
    EmptyWindow,
}

/// Minutes since midnight of an `HH:MM` string.
pub fn parse_time_of_day(value: &str) -> Result<u32, QuietHoursError> {
    let bad = || QuietHoursError::BadTime(value.chars().take(32).collect());
    let (h, m) = value.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl QuietHours {
    /// Quiet hours switched off (the default unless the server configures one).
    pub fn off() -> Self {
        Self { enabled: false, start: "22:00".into(), end: "07:00".into(), timezone: "UTC".into(), allow_urgent: true }
    }

    /// Checks times and zone; returns the parsed window.
    pub fn validate(&self) -> Result<(u32, u32, chrono_tz::Tz), QuietHoursError> {
        let start = parse_time_of_day(&self.start)?;
        let end = parse_time_of_day(&self.end)?;
        if start == end {
            return Err(QuietHoursError::EmptyWindow);
        }
        let zone: chrono_tz::Tz =
            self.timezone.parse().map_err(|_| QuietHoursError::BadZone(self.timezone.chars().take(64).collect()))?;
        Ok((start, end, zone))
    }

    /// Whether a notification of `severity` created at `at_ms` (Unix ms) is quiet.
    /// Invalid settings are never quiet: a notification is never hidden by mistake.
    pub fn is_quiet(&self, at_ms: i64, severity: Severity) -> bool {
        if !self.enabled || (severity == Severity::Urgent && self.allow_urgent) {
            return false;
        }
        let Ok((start, end, zone)) = self.validate() else { return false };
        use chrono::{TimeZone, Timelike};
        let Some(utc) = chrono::Utc.timestamp_millis_opt(at_ms).single() else { return false };
        let local = utc.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

impl QuietHours {
    /// The quiet window (start, end; Unix ms) that `at_ms` falls in, if any:
    /// the local start and end times on the days around it, in the user's time
    /// zone, so a window across a daylight-saving change is an hour shorter or
    /// longer. (A local time that does not exist, in a spring-forward gap, is
    /// taken as the first instant after the gap; one that happens twice, as
    /// the first.)
    pub fn window_containing(&self, at_ms: i64) -> Option<(i64, i64)> {
        use chrono::{Days, TimeZone, Timelike};
        if !self.enabled {
            return None;
        }
        let (start, end, zone) = self.validate().ok()?;
        let local = chrono::Utc.timestamp_millis_opt(at_ms).single()?.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        let today = local.date_naive();
        let (start_day, end_day) = if start < end {
            if !(start..end).contains(&minute) {
                return None;
            }
            (today, today)
        } else if minute >= start {
            (today, today.checked_add_days(Days::new(1))?)
        } else if minute < end {
            (today.checked_sub_days(Days::new(1))?, today)
        } else {
            return None;
        };
        Some((local_instant_ms(zone, start_day, start)?, local_instant_ms(zone, end_day, end)?))
    }
}

/// The instant of `minute` past midnight on `day` in `zone` (see
/// [`QuietHours::window_containing`] for times that do not exist or repeat).
fn local_instant_ms(zone: chrono_tz::Tz, day: chrono::NaiveDate, minute: u32) -> Option<i64> {
    use chrono::TimeZone;
    let naive = day.and_hms_opt(minute / 60, minute % 60, 0)?;
    let instant = match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => at,
        chrono::LocalResult::None => zone.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest()?,
    };
    Some(instant.timestamp_millis())
}

/// What arrived quietly in one window: how many of each category, and the
/// urgent ones' titles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuietSummary {
    pub counts: Vec<(Category, u64)>,
    pub urgent: Vec<String>,
}

impl QuietSummary {
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    /// The digest's title and body: the urgent ones first (at most three by
    /// title), then the count of each category.
    pub fn digest_text(&self) -> (String, String) {
        let total = self.total();
        let title =
            format!("While your quiet hours were on: {total} notification{}", if total == 1 { "" } else { "s" });
        let mut lines = Vec::new();
        if !self.urgent.is_empty() {
            let shown: Vec<&str> = self.urgent.iter().take(3).map(String::as_str).collect();
            let more = self.urgent.len().saturating_sub(shown.len());
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            lines.push(format!("Urgent: {}{tail}.", shown.join("; ")));
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(category, n)| format!("{} {n}", category.as_str()))
            .collect();
        lines.push(format!("{}.", counts.join(", ")));
        (title, lines.join("\n"))
    }
}

#[cfg(test)]
mod quiet_tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        crate::time::parse_rfc3339_ms(rfc3339).expect("timestamp")
    }

    fn window(start: &str, end: &str, zone: &str) -> QuietHours {
        QuietHours { enabled: true, start: start.into(), end: end.into(), timezone: zone.into(), allow_urgent: true }
    }

    #[test]
    fn boundaries_of_a_window_crossing_midnight() {
        let q = window("22:00", "07:00", "UTC");
        assert!(!q.is_quiet(at("2026-11-26T21:59:59Z"), Severity::Info));
        assert!(q.is_quiet(at("2026-11-26T22:00:00Z"), Severity::Info));
        assert!(q.is_quiet(at("2026-11-27T00:00:00Z"), Severity::Info));
        assert!(q.is_quiet(at("2026-11-27T06:59:59Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-11-27T07:00:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-11-27T12:00:00Z"), Severity::Warning));
    }

    #[test]
    fn a_daytime_window() {
        let q = window("09:00", "17:30", "UTC");
        assert!(q.is_quiet(at("2026-11-26T09:00:00Z"), Severity::Info));
        assert!(q.is_quiet(at("2026-11-26T17:29:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-11-26T17:30:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-11-26T08:59:00Z"), Severity::Info));
    }

    #[test]
    fn urgent_passes_only_when_allowed_and_disabled_is_never_quiet() {
        let mut q = window("22:00", "07:00", "UTC");
        assert!(!q.is_quiet(at("2026-11-26T23:00:00Z"), Severity::Urgent));
        q.allow_urgent = false;
        assert!(q.is_quiet(at("2026-11-26T23:00:00Z"), Severity::Urgent));
        q.enabled = false;
        assert!(!q.is_quiet(at("2026-11-26T23:00:00Z"), Severity::Info));
    }

    #[test]
    fn local_time_follows_daylight_saving_changes() {
        // Europe/Paris leaves summer time on 2026-10-25 at 03:00 local (01:00 UTC).
        let q = window("22:00", "07:00", "Europe/Paris");
        // The day before: UTC+2, so 06:30 local is 04:30 UTC and quiet; 05:00 UTC is 07:00 local.
        assert!(q.is_quiet(at("2026-10-24T04:30:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-10-24T05:00:00Z"), Severity::Info));
        // The change day: UTC+1 after 01:00 UTC, so 05:30 UTC is 06:30 local (quiet), 06:00 UTC is 07:00.
        assert!(q.is_quiet(at("2026-10-25T05:30:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-10-25T06:00:00Z"), Severity::Info));
        // Spring forward (2026-03-29, 02:00 → 03:00 local): 21:00 UTC on the 28th is 22:00 local (UTC+1).
        assert!(q.is_quiet(at("2026-03-28T21:00:00Z"), Severity::Info));
        assert!(!q.is_quiet(at("2026-03-29T05:00:00Z"), Severity::Info), "07:00 local in summer time");
        assert!(q.is_quiet(at("2026-03-29T04:59:00Z"), Severity::Info));
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert_eq!(
            window("24:00", "07:00", "UTC").validate().map(|_| ()),
            Err(QuietHoursError::BadTime("24:00".into()))
        );
        assert!(window("7:00", "08:00", "UTC").validate().is_err());
        assert!(window("22:00", "22:00", "UTC").validate().is_err());
        assert!(matches!(window("22:00", "07:00", "Mars/Olympus").validate(), Err(QuietHoursError::BadZone(_))));
        assert!(window("22:00", "07:00", "America/New_York").validate().is_ok());
    }

    #[test]
    fn the_window_a_quiet_notification_falls_in_follows_the_zone_across_daylight_saving() {
        let q = window("22:00", "07:00", "Europe/Berlin");
        // The night clocks go forward (29 March 2026, 02:00 → 03:00): an hour shorter.
        let (start, end) = q.window_containing(at("2026-03-28T23:30:00Z")).expect("in the window");
        assert_eq!((start, end), (at("2026-03-28T21:00:00Z"), at("2026-03-29T05:00:00Z")));
        assert_eq!(
            q.window_containing(at("2026-03-29T04:59:00Z")),
            Some((start, end)),
            "the same night, after the change"
        );
        // The night they go back (25 October 2026, 03:00 → 02:00): an hour longer.
        let (start, end) = q.window_containing(at("2026-10-25T01:00:00Z")).expect("in the window");
        assert_eq!((start, end), (at("2026-10-24T20:00:00Z"), at("2026-10-25T06:00:00Z")));
        assert_eq!(q.window_containing(at("2026-10-25T12:00:00Z")), None, "daytime is not quiet");
        let day = window("09:00", "17:30", "UTC");
        assert_eq!(
            day.window_containing(at("2026-11-26T12:00:00Z")),
            Some((at("2026-11-26T09:00:00Z"), at("2026-11-26T17:30:00Z")))
        );
        assert_eq!(QuietHours::off().window_containing(at("2026-11-26T23:00:00Z")), None);
        // A window that starts in a gap (02:30 does not exist that night) starts after it.
        let gap = window("02:30", "06:00", "Europe/Berlin");
        assert_eq!(
            gap.window_containing(at("2026-03-29T02:00:00Z")),
            Some((at("2026-03-29T01:30:00Z"), at("2026-03-29T04:00:00Z")))
        );
    }

    #[test]
    fn a_digest_says_the_urgent_ones_first_then_the_counts() {
        let summary = QuietSummary {
            counts: vec![(Category::Missions, 3), (Category::Workstations, 0), (Category::System, 1)],
            urgent: vec!["Build broke".into(), "Disk full".into(), "Agent stuck".into(), "Prod down".into()],
        };
        let (title, body) = summary.digest_text();
        assert_eq!(title, "While your quiet hours were on: 4 notifications");
        assert_eq!(body, "Urgent: Build broke; Disk full; Agent stuck and 1 more.\nmissions 3, system 1.");
        let one = QuietSummary { counts: vec![(Category::Community, 1)], urgent: vec![] };
        assert_eq!(one.digest_text(), ("While your quiet hours were on: 1 notification".into(), "community 1.".into()));
    }
}

/// A notification as every surface sees it (API, realtime events, CLI, web).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: crate::ids::NotificationId,
    pub user_id: crate::ids::UserId,
    pub category: Category,
    /// What caused it: an event type (`mission.stage_changed`, …) or `direct`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub severity: Severity,
    /// True when it arrived during the user's quiet hours: no toast, no bell.
    pub quiet: bool,
    /// +1 on every change (read, unread, snoozed, woken, done, undone).
    pub version: i64,
    /// The event that caused it, if any.
    pub source_event_id: Option<uuid::Uuid>,
    #[serde(with = "crate::time::serde_ms")]
    #[schema(value_type = String, format = DateTime)]
    #[ts(type = "string")]
    pub created_at: i64,
    #[serde(with = "crate::time::serde_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[ts(type = "string | null")]
    pub read_at: Option<i64>,
    /// Out of the inbox until this instant, then back unread (with a fresh toast).
    #[serde(default, with = "crate::time::serde_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[ts(type = "string | null")]
    pub snoozed_until: Option<i64>,
    /// When it was marked done: out of the inbox, listed under Done.
    #[serde(default, with = "crate::time::serde_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[ts(type = "string | null")]
    pub done_at: Option<i64>,
    /// How many later events about the same subject replaced it while it was
    /// unread ("updated ×N"; 0: never). Its history lists them.
    #[serde(default)]
    pub updates: i64,
    /// When the latest of them replaced it.
    #[serde(default, with = "crate::time::serde_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[ts(type = "string | null")]
    pub updated_at: Option<i64>,
}

/// Unread notifications per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
pub struct ByCategory {
    pub missions: u64,
    pub workstations: u64,
    pub community: u64,
    pub system: u64,
}

impl ByCategory {
    pub fn get_mut(&mut self, category: Category) -> &mut u64 {
        match category {
            Category::Missions => &mut self.missions,
            Category::Workstations => &mut self.workstations,
            Category::Community => &mut self.community,
            Category::System => &mut self.system,
        }
    }
}

/// A user's unread counts: the server's number, versioned so a client can tell
/// it missed a change (the version grows by one per change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct UnreadCounts {
    pub total: u64,
    pub by_category: ByCategory,
    pub counts_version: i64,
}

/// Data of `notification.created`, `notification.read`, `notification.unread`,
/// `notification.snoozed`, `notification.woke`, `notification.done`, `notification.undone`
/// and `notification.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChanged {
    pub user_id: crate::ids::UserId,
    pub notification: NotificationView,
    pub unread: UnreadCounts,
}

/// What a user hears of one mission, besides the rules (owner, watcher).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum MissionRule {
    /// Nothing from it, even as its owner.
    Mute,
    /// Only its urgent notifications.
    UrgentOnly,
}

impl MissionRule {
    /// Whether a notification of `severity` about the mission still reaches the user.
    pub fn lets_through(self, severity: Severity) -> bool {
        match self {
            MissionRule::Mute => false,
            MissionRule::UrgentOnly => severity == Severity::Urgent,
        }
    }
}

/// A user's rules per mission, by mission id.
pub type MissionRules = std::collections::BTreeMap<String, MissionRule>;

/// Where notifications of one category show: as a toast (and desktop
/// notification) in the web UI, in the inbox at all, in a CLI watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Surfaces {
    pub toast: bool,
    /// Off: a rule's notifications of this category are not created at all.
    pub inbox: bool,
    pub cli: bool,
}

impl Default for Surfaces {
    fn default() -> Self {
        Self { toast: true, inbox: true, cli: true }
    }
}

/// Surfaces per category (every one on unless set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CategorySurfaces {
    #[serde(default)]
    pub missions: Surfaces,
    #[serde(default)]
    pub workstations: Surfaces,
    #[serde(default)]
    pub community: Surfaces,
    #[serde(default)]
    pub system: Surfaces,
}

impl CategorySurfaces {
    pub fn of(&self, category: Category) -> Surfaces {
        match category {
            Category::Missions => self.missions,
            Category::Workstations => self.workstations,
            Category::Community => self.community,
            Category::System => self.system,
        }
    }
}

fn own_quiet_hours() -> bool {
    true
}

/// Data of `preferences.updated`: a user's preferences as they are after the
/// change (the event's `version` counts the user's preference changes, from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesChanged {
    pub user_id: crate::ids::UserId,
    /// The quiet hours in force for the user: their own when `quietHoursSet`,
    /// else the default that applies to them (their workspace's, or the server's).
    pub quiet_hours: QuietHours,
    /// Whether the user set quiet hours of their own (then no default applies to them any more).
    #[serde(default = "own_quiet_hours")]
    pub quiet_hours_set: bool,
    /// Per mission id: `mute` or `urgent_only` (a mission not listed follows the rules).
    #[serde(default)]
    #[ts(type = "Record<string, MissionRule>")]
    pub mission_rules: MissionRules,
    /// Where each category's notifications show.
    #[serde(default)]
    pub surfaces: CategorySurfaces,
}

/// Data of `notifications.read_all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxReadAll {
    pub user_id: crate::ids::UserId,
    /// Only this category was marked, if given.
    pub category: Option<Category>,
    /// Notifications created after this instant (Unix ms, RFC 3339 on the wire) stayed unread.
    #[serde(with = "crate::time::serde_ms")]
    #[schema(value_type = String, format = DateTime)]
    #[ts(type = "string")]
    pub watermark: i64,
    /// How many were marked read.
    pub marked: u64,
    pub unread: UnreadCounts,
}

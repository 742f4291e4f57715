//! Who may connect and who may read which channel. Decided from the store,
//! never from anything the client claims.
//!
//! Connects come in storms (a deploy, a network blip), and each used to cost
//! several database reads: the credential behind the token, then the membership
//! behind every channel. [`AccessCache`] keeps what the store answered for a
//! short while (`SOLO_PAT_CACHE_TTL_MS`, the same trust window as verified
//! personal access tokens on the API) and forgets everything at once when the
//! store's revocation counter moves (a token revoked, a session ended, a member
//! removed, on any node), before live connections are checked again. Which
//! workspace a mission or workstation belongs to never changes, so that is
//! kept until the map is full.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use solo_domain::time::now_ms;
use solo_domain::{Channel, TokenId, UserId, WorkspaceId};
use solo_store::{Store, StoreResult};

/// Entries each map holds at most; past it, it starts afresh (cheap, rare).
const MAX_ENTRIES: usize = 100_000;

/// Whether `user` may subscribe to (and read the history of) `channel`:
/// members of the workspace for workspace, mission and workstation channels;
/// only the user themself for `notifications:{userId}`; nobody for an
/// integration channel (only a subscription token opens one). Uncached.
pub async fn may_read(store: &dyn Store, user: &UserId, channel: &Channel) -> StoreResult<bool> {
    let workspace = match channel {
        Channel::Notifications(owner) => return Ok(owner == user),
        Channel::Integration(_) => return Ok(false),
        Channel::Workspace(ws) => Some(ws.clone()),
        Channel::Mission(id) => store.mission(id).await?.map(|m| m.workspace_id),
        Channel::Workstation(id) => store.workstation(id).await?.map(|w| w.workspace_id),
    };
    match workspace {
        Some(ws) => Ok(store.role_in(user, &ws).await?.is_some()),
        None => Ok(false),
    }
}

/// Whether the credential a connection token came from (`pat_…` or
/// `session:<hash>`) still stands for `user`, and until when. Uncached.
pub async fn credential_valid_until(store: &dyn Store, source: &str, user: &UserId) -> StoreResult<Option<i64>> {
    let now = now_ms();
    if let Some(hash) = source.strip_prefix("session:") {
        let session = store.session_by_hash(hash, now).await?;
        return Ok(session.filter(|s| &s.user_id == user).map(|s| s.expires_at));
    }
    let Ok(id) = TokenId::parse(source) else { return Ok(None) };
    let token = store.access_token_by_id(&id).await?;
    Ok(token
        .filter(|t| &t.user_id == user && t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
        .map(|t| t.expires_at.unwrap_or(i64::MAX)))
}

/// A map of answers, each good until its own instant.
struct Expiring<K, V> {
    entries: Mutex<HashMap<K, (V, i64)>>,
}

impl<K: Hash + Eq, V: Clone> Expiring<K, V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, i64)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &K, now: i64) -> Option<V> {
        self.lock().get(key).filter(|(_, until)| *until > now).map(|(value, _)| value.clone())
    }

    fn put(&self, key: K, value: V, until: i64) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, until));
    }

    /// Keeps an answer read while `generation` was `seen`, unless a clear came
    /// since: checked under the map's lock, which `clear` also takes after
    /// moving the generation, so a stale answer cannot land after a clear.
    fn put_unless_cleared(&self, key: K, value: V, until: i64, generation: &AtomicU64, seen: u64) {
        let mut entries = self.lock();
        if generation.load(Ordering::Acquire) != seen {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, until));
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// The store's recent answers about credentials and memberships.
pub struct AccessCache {
    ttl_ms: i64,
    /// Bumped by every clear: an answer read before a clear is not kept after it.
    generation: AtomicU64,
    credentials: Expiring<(Arc<str>, UserId), bool>,
    members: Expiring<(UserId, WorkspaceId), bool>,
    /// Channel (mission or workstation) → its workspace; `None`: no such subject.
    workspaces: Expiring<Channel, Option<WorkspaceId>>,
}

impl std::fmt::Debug for AccessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessCache").field("ttl_ms", &self.ttl_ms).finish_non_exhaustive()
    }
}

impl AccessCache {
    /// Keeps answers for `ttl_ms` (0: asks the store every time).
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            generation: AtomicU64::new(0),
            credentials: Expiring::new(),
            members: Expiring::new(),
            workspaces: Expiring::new(),
        }
    }

    /// Moves on every clear: a caller that authorized under one generation and
    /// finds another afterwards must decide again (the revalidator may have
    /// gone over the hub before the caller registered).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets credentials and memberships (access was taken away somewhere).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.credentials.clear();
        self.members.clear();
    }

    /// [`credential_valid_until`], remembered for a while.
    pub async fn credential_is_valid(&self, store: &dyn Store, source: &Arc<str>, user: &UserId) -> StoreResult<bool> {
        let now = now_ms();
        let key = (source.clone(), user.clone());
        if self.ttl_ms > 0 {
            if let Some(valid) = self.credentials.get(&key, now) {
                return Ok(valid);
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let until = credential_valid_until(store, source, user).await?;
        if self.ttl_ms > 0 {
            let keep = now.saturating_add(self.ttl_ms).min(until.unwrap_or(i64::MAX));
            self.credentials.put_unless_cleared(key, until.is_some(), keep, &self.generation, generation);
        }
        Ok(until.is_some())
    }

    /// [`may_read`], remembered for a while.
    pub async fn may_read(&self, store: &dyn Store, user: &UserId, channel: &Channel) -> StoreResult<bool> {
        if self.ttl_ms == 0 {
            return may_read(store, user, channel).await;
        }
        let now = now_ms();
        let workspace = match channel {
            Channel::Notifications(owner) => return Ok(owner == user),
            Channel::Integration(_) => return Ok(false),
            Channel::Workspace(ws) => ws.clone(),
            Channel::Mission(_) | Channel::Workstation(_) => match self.workspaces.get(channel, now) {
                Some(Some(ws)) => ws,
                // An unknown subject may yet be created: ask again next time.
                Some(None) | None => {
                    let ws = match channel {
                        Channel::Mission(id) => store.mission(id).await?.map(|m| m.workspace_id),
                        Channel::Workstation(id) => store.workstation(id).await?.map(|w| w.workspace_id),
                        _ => None,
                    };
                    let Some(ws) = ws else { return Ok(false) };
                    self.workspaces.put(channel.clone(), Some(ws.clone()), i64::MAX);
                    ws
                }
            },
        };
        let key = (user.clone(), workspace);
        if let Some(member) = self.members.get(&key, now) {
            return Ok(member);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let member = store.role_in(user, &key.1).await?.is_some();
        self.members.put_unless_cleared(key, member, now.saturating_add(self.ttl_ms), &self.generation, generation);
        Ok(member)
    }
}

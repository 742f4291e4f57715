//! Recently verified personal access tokens, so a busy client (the CLI, an
//! integration creating notifications) is not looked up in the database twice
//! on every request.
//!
//! An entry answers for at most `SOLO_PAT_CACHE_TTL_MS` and never outlives a
//! revocation: this node's revocations clear the cache before they answer, and
//! the revalidator clears it as soon as the store's revocation counter moves
//! (a revocation on another node, or by `solo admin`), which it looks at every
//! `SOLO_REVALIDATE_INTERVAL_MS`. The token's own expiry is checked on every
//! request, cached or not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use solo_domain::TokenId;
use solo_store::User;

/// Entries kept at most; a full cache is emptied rather than scanned.
const MAX_ENTRIES: usize = 10_000;

/// What a verified token grants, as read from the store.
#[derive(Debug, Clone)]
pub struct VerifiedPat {
    pub user: User,
    pub id: TokenId,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

struct Entry {
    pat: VerifiedPat,
    verified_at_ms: i64,
}

#[derive(Default)]
pub struct PatCache {
    ttl_ms: i64,
    entries: Mutex<HashMap<String, Entry>>,
    /// Moves on every clear; a lookup that began before a clear must not store
    /// what it read (it may predate the revocation).
    generation: AtomicU64,
}

impl std::fmt::Debug for PatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatCache").field("ttl_ms", &self.ttl_ms).finish_non_exhaustive()
    }
}

impl PatCache {
    /// A cache whose entries answer for `ttl_ms`; 0 turns caching off.
    pub fn new(ttl_ms: u64) -> Self {
        Self { ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX), ..Self::default() }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token with this secret hash, if verified less than the TTL ago.
    pub fn get(&self, hash: &str, now_ms: i64) -> Option<VerifiedPat> {
        if self.ttl_ms == 0 {
            return None;
        }
        let entries = self.entries();
        let entry = entries.get(hash)?;
        (now_ms - entry.verified_at_ms < self.ttl_ms).then(|| entry.pat.clone())
    }

    /// The generation to hand back to [`PatCache::put`]; read it before the lookup.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a token read from the store when no clear happened since
    /// `generation` was read.
    pub fn put(&self, hash: &str, pat: VerifiedPat, generation: u64, now_ms: i64) {
        if self.ttl_ms == 0 {
            return;
        }
        let mut entries = self.entries();
        // Checked under the lock that `clear` also takes, so a clear cannot slip in between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash.to_owned(), Entry { pat, verified_at_ms: now_ms });
    }

    /// Records that the token was just marked as used, so the next requests do not mark it again.
    pub fn touched(&self, hash: &str, now_ms: i64) {
        if let Some(entry) = self.entries().get_mut(hash) {
            entry.pat.last_used_at = Some(now_ms);
        }
    }

    /// Forgets everything (access was taken away somewhere).
    pub fn clear(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solo_domain::UserId;

    fn pat() -> VerifiedPat {
        VerifiedPat {
            user: User {
                id: UserId::from_trusted("u_1".into()),
                name: "ada".into(),
                display_name: "Ada".into(),
                avatar_url: None,
                password_hash: None,
                created_at: 0,
            },
            id: TokenId::from_trusted("t_1".into()),
            scopes: vec!["read".into()],
            expires_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn entries_answer_until_their_ttl() {
        let cache = PatCache::new(1_000);
        cache.put("h", pat(), cache.generation(), 10_000);
        assert!(cache.get("h", 10_999).is_some());
        assert!(cache.get("h", 11_000).is_none());
        assert!(cache.get("other", 10_001).is_none());
    }

    #[test]
    fn a_clear_wins_over_a_lookup_that_began_before_it() {
        let cache = PatCache::new(1_000);
        cache.put("h", pat(), cache.generation(), 0);
        let before = cache.generation();
        cache.clear();
        assert!(cache.get("h", 1).is_none(), "cleared");
        cache.put("h", pat(), before, 2);
        assert!(cache.get("h", 3).is_none(), "a read from before the clear is not kept");
        cache.put("h", pat(), cache.generation(), 4);
        assert!(cache.get("h", 5).is_some());
    }

    #[test]
    fn ttl_zero_turns_caching_off() {
        let cache = PatCache::new(0);
        cache.put("h", pat(), cache.generation(), 0);
        assert!(cache.get("h", 0).is_none());
    }
}

//! Who may read which channel. Decided from the store on every subscribe and
//! every history read, never from anything the client claims.

use solo_domain::{Channel, UserId};
use solo_store::{Store, StoreResult};

/// Whether `user` may subscribe to (and read the history of) `channel`:
/// members of the workspace for workspace, mission and workstation channels;
/// only the user themself for `notifications:{userId}`.
pub async fn may_read(store: &dyn Store, user: &UserId, channel: &Channel) -> StoreResult<bool> {
    let workspace = match channel {
        Channel::Notifications(owner) => return Ok(owner == user),
        Channel::Workspace(ws) => Some(ws.clone()),
        Channel::Mission(id) => store.mission(id).await?.map(|m| m.workspace_id),
        Channel::Workstation(id) => store.workstation(id).await?.map(|w| w.workspace_id),
    };
    match workspace {
        Some(ws) => Ok(store.role_in(user, &ws).await?.is_some()),
        None => Ok(false),
    }
}

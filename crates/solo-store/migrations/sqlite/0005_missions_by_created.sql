-- The board pages missions newest first within a workspace (`missions_page`:
-- ORDER BY created_at DESC, id DESC after a keyset cursor). Without this index
-- every page sorted all of a workspace's missions.
CREATE INDEX missions_by_workspace_created ON missions(workspace_id, created_at, id);

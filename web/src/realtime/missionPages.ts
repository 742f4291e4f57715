/**
 * The board's missions arrive a page at a time (`GET /api/missions`, newest
 * first): the cached list is every page loaded so far, with the cursor of the
 * next one. Pure functions, no React.
 */
import type { MissionList } from '../api/types';

/** The list with an older page appended: missions already held (pushed meanwhile) are not repeated. */
export function appendMissionPage(list: MissionList | undefined, page: MissionList): MissionList {
  if (!list) return page;
  const held = new Set(list.items.map((m) => m.id));
  return { items: [...list.items, ...page.items.filter((m) => !held.has(m.id))], nextCursor: page.nextCursor };
}

/** Whether older missions remain to be loaded. */
export function hasMoreMissions(list: MissionList | undefined): boolean {
  return Boolean(list?.nextCursor);
}

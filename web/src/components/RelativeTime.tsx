import { dateTime, relativeTime } from '../lib/format';
import { useNow } from '../lib/useNow';

/** A timestamp shown as "12 s ago", kept current; the exact time is in its title. */
export function RelativeTime({ iso, tick = 1000 }: { iso: string | null | undefined; tick?: number }) {
  const now = useNow(tick);
  if (!iso) return <span>never</span>;
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}

// Test support: event envelopes as the server pushes them, for the unit tests
// of the functions that apply events to cached data.
import type { EnvelopeOf, EventDataMap, EventType } from '../api/types';

let counter = 0;

/** An envelope of `type` about `subject`, with a fresh id. */
export function envelope<T extends EventType>(
  type: T,
  subject: { kind: EnvelopeOf<T>['subject']['kind']; id: string },
  version: number,
  data: EventDataMap[T],
  ts = '2026-11-26T10:00:00.000Z',
): EnvelopeOf<T> {
  counter += 1;
  return {
    id: `evt-${counter}`,
    type,
    version,
    ts,
    traceId: '0'.repeat(32),
    actor: { kind: 'user', id: 'u_1' },
    subject,
    data,
  } as EnvelopeOf<T>;
}

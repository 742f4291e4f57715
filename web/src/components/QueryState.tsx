import type { ReactNode } from 'react';
import { errorMessage } from '../api/client';

interface QueryLike<T> {
  data: T | undefined;
  error: unknown;
  isPending: boolean;
  refetch: () => unknown;
}

/** Loading and error states of a query, or its content once there is data. */
export function QueryState<T>({ query, children }: { query: QueryLike<T>; children: (data: T) => ReactNode }) {
  if (query.data !== undefined) return <>{children(query.data)}</>;
  if (query.isPending && !query.error) {
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  }
  return (
    <div className="error-box" role="alert">
      <p>{errorMessage(query.error)}</p>
      <button type="button" className="button" onClick={() => void query.refetch()}>
        Try again
      </button>
    </div>
  );
}

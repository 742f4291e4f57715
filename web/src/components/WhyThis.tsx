import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import type { Explanation } from '../api/types';

/** "Why am I seeing this?" on an inbox item: the decision record kept with the notification, in sentences. */
export function WhyThis({ id, title }: { id: string; title: string }) {
  const [open, setOpen] = useState(false);
  const explanation = useQuery({
    queryKey: ['notification-explain', id],
    queryFn: ({ signal }) => api.get<Explanation>(`/api/notifications/${encodeURIComponent(id)}/explain`, signal),
    enabled: open,
  });
  return (
    <div className="why-this">
      <button
        type="button"
        className="link-button small"
        aria-expanded={open}
        aria-label={`Why am I seeing this? ${title}`}
        onClick={() => setOpen(!open)}
      >
        Why am I seeing this?
      </button>
      {open && (
        <ul className="muted small" aria-label={`Why: ${title}`}>
          {explanation.isPending && <li>Loading…</li>}
          {explanation.isError && <li role="alert">Could not load the explanation.</li>}
          {explanation.data?.summary.map((sentence) => <li key={sentence}>{sentence}</li>)}
        </ul>
      )}
    </div>
  );
}

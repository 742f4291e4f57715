import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import type { Category, CategorySurfaces, Preferences, Surfaces } from '../api/types';
import { takePreferences } from '../realtime/cache';
import { MutationError } from './MutationError';

const CATEGORIES: { id: Category; label: string }[] = [
  { id: 'missions', label: 'Missions' },
  { id: 'workstations', label: 'Workstations' },
  { id: 'community', label: 'Community' },
  { id: 'system', label: 'System' },
];

const SURFACES: { id: keyof Surfaces; label: string }[] = [
  { id: 'toast', label: 'Toast' },
  { id: 'inbox', label: 'Inbox' },
  { id: 'cli', label: 'CLI' },
];

/** Where each category's notifications show; each change is saved at once and reaches every tab and CLI. */
export function SurfacesForm({ prefs }: { prefs: Preferences }) {
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (surfaces: CategorySurfaces) => api.put<Preferences>('/api/me/preferences/surfaces', surfaces),
    onSuccess: (saved) => takePreferences(client, saved),
  });
  const toggle = (category: Category, surface: keyof Surfaces, on: boolean) =>
    save.mutate({ ...prefs.surfaces, [category]: { ...prefs.surfaces[category], [surface]: on } });
  return (
    <section className="card form" aria-labelledby="surfaces-title">
      <h2 id="surfaces-title">Where notifications show</h2>
      <p className="muted small">
        Inbox off: those notifications are not kept at all (ones sent to you by name still are). Toast covers desktop
        notifications too; CLI is <code>solo notifications watch</code>.
      </p>
      <table className="surfaces">
        <thead>
          <tr>
            <th scope="col">Category</th>
            {SURFACES.map((s) => (
              <th key={s.id} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {CATEGORIES.map((c) => (
            <tr key={c.id}>
              <th scope="row">{c.label}</th>
              {SURFACES.map((s) => (
                <td key={s.id}>
                  <input
                    type="checkbox"
                    aria-label={`${c.label}: ${s.label}`}
                    checked={prefs.surfaces[c.id][s.id]}
                    disabled={save.isPending}
                    onChange={(e) => toggle(c.id, s.id, e.target.checked)}
                  />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <MutationError mutation={save} />
    </section>
  );
}

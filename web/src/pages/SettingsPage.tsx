import { useEffect, useMemo, useState, type FormEvent } from 'react';
import {
  useCreateToken,
  useMe,
  usePreferences,
  useRevokeToken,
  useSavePreferences,
  useSaveWorkspaceConfig,
  useTokens,
  useWorkspaceConfig,
} from '../api/hooks';
import type { AccessToken, CreatedToken, Preferences, QuietHours, WorkspaceConfigView, WorkspaceView } from '../api/types';
import { QueryState } from '../components/QueryState';
import { SurfacesForm } from '../components/SurfacesForm';
import {
  desktopPermission,
  desktopSetting,
  readDesktopOptIn,
  requestDesktopPermission,
  writeDesktopOptIn,
  type DesktopPermission,
} from '../lib/desktopNotifications';
import { dateTime } from '../lib/format';
import { MutationError } from '../components/MutationError';
import { browserTimeZone } from '../realtime/preferences';

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

/**
 * What the form starts from: the saved quiet hours, except that someone who
 * never set any starts from the browser's time zone rather than the server's.
 */
function formValues(prefs: Preferences): QuietHours {
  if (prefs.version > 0) return prefs.quietHours;
  return { ...prefs.quietHours, timezone: browserTimeZone() ?? prefs.quietHours.timezone };
}

function QuietHoursForm({ prefs }: { prefs: Preferences }) {
  const save = useSavePreferences();
  const initial = useMemo(() => formValues(prefs), [prefs]);
  const [form, setForm] = useState<QuietHours>(initial);
  const zones = useMemo(timeZones, []);
  // A change saved elsewhere (another tab, the CLI) arrives as `preferences.updated` and shows here at once.
  useEffect(() => setForm(initial), [initial]);

  const set = <K extends keyof QuietHours>(key: K, value: QuietHours[K]) => {
    save.reset();
    setForm((f) => ({ ...f, [key]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate({ ...form, timezone: form.timezone.trim() });
  };

  return (
    <form className="card form" onSubmit={submit} aria-labelledby="quiet-title">
      <h2 id="quiet-title">Quiet hours</h2>
      <p className="muted small">
        During quiet hours notifications are still kept and counted, but they do not pop up.
        {!prefs.quietHoursSet && ' Until you save yours, your workspace’s default quiet hours (or the server’s) apply.'}
      </p>
      <label className="check">
        <input type="checkbox" checked={form.enabled} onChange={(e) => set('enabled', e.target.checked)} />
        Enable quiet hours
      </label>
      <div className="row">
        <label className="field">
          <span>From</span>
          <input type="time" required value={form.start} onChange={(e) => set('start', e.target.value)} />
        </label>
        <label className="field">
          <span>To</span>
          <input type="time" required value={form.end} onChange={(e) => set('end', e.target.value)} />
        </label>
      </div>
      <label className="field">
        <span>Time zone</span>
        <input
          list="time-zones"
          required
          value={form.timezone}
          onChange={(e) => set('timezone', e.target.value)}
          placeholder="Europe/Paris"
          autoComplete="off"
          spellCheck={false}
        />
        <datalist id="time-zones">
          {zones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
      </label>
      <label className="check">
        <input type="checkbox" checked={form.allowUrgent} onChange={(e) => set('allowUrgent', e.target.checked)} />
        Let urgent notifications through
      </label>
      <div role="status" className="form-status">
        {save.isSuccess && <p className="form-ok">Saved.</p>}
      </div>
      <MutationError mutation={save} />
      <button type="submit" className="button button-primary" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save quiet hours'}
      </button>
    </form>
  );
}

/** The workspace default form's state: whether a default is set, and which. */
interface DefaultForm {
  set: boolean;
  quiet: QuietHours;
}

function defaultFormValues(view: WorkspaceConfigView): DefaultForm {
  const quiet = view.config.defaultQuietHours;
  if (quiet) return { set: true, quiet };
  const timezone = browserTimeZone() ?? 'UTC';
  return { set: false, quiet: { enabled: true, start: '22:00', end: '07:00', timezone, allowUrgent: true } };
}

/**
 * A workspace's settings, for its admins: the default quiet hours of members
 * who set none. A change saved elsewhere (another tab, `solo workspace config
 * set`) arrives as `config.updated` and shows here at once.
 */
function WorkspaceDefaultForm({ workspace, view }: { workspace: WorkspaceView; view: WorkspaceConfigView }) {
  const save = useSaveWorkspaceConfig(workspace.id);
  const initial = useMemo(() => defaultFormValues(view), [view]);
  const [form, setForm] = useState<DefaultForm>(initial);
  useEffect(() => setForm(initial), [initial]);
  const titleId = `workspace-${workspace.id}-title`;

  const setQuiet = <K extends keyof QuietHours>(key: K, value: QuietHours[K]) => {
    save.reset();
    setForm((f) => ({ ...f, quiet: { ...f.quiet, [key]: value } }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate({ defaultQuietHours: form.set ? { ...form.quiet, timezone: form.quiet.timezone.trim() } : null });
  };

  return (
    <form className="card form workspace-settings" onSubmit={submit} aria-labelledby={titleId}>
      <h2 id={titleId}>Workspace settings: {workspace.name}</h2>
      <p className="muted small">
        As an admin of this workspace you choose the quiet hours of its members who have not set their own. Without a
        workspace default, the server’s applies.
      </p>
      <label className="check">
        <input
          type="checkbox"
          checked={form.set}
          onChange={(e) => {
            save.reset();
            setForm((f) => ({ ...f, set: e.target.checked }));
          }}
        />
        Set a workspace default
      </label>
      <fieldset className="plain" disabled={!form.set}>
        <label className="check">
          <input type="checkbox" checked={form.quiet.enabled} onChange={(e) => setQuiet('enabled', e.target.checked)} />
          Quiet hours on by default
        </label>
        <div className="row">
          <label className="field">
            <span>Default from</span>
            <input type="time" required value={form.quiet.start} onChange={(e) => setQuiet('start', e.target.value)} />
          </label>
          <label className="field">
            <span>Default to</span>
            <input type="time" required value={form.quiet.end} onChange={(e) => setQuiet('end', e.target.value)} />
          </label>
        </div>
        <label className="field">
          <span>Default zone</span>
          <input
            list="time-zones"
            required
            value={form.quiet.timezone}
            onChange={(e) => setQuiet('timezone', e.target.value)}
            placeholder="Europe/Paris"
            autoComplete="off"
            spellCheck={false}
          />
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={form.quiet.allowUrgent}
            onChange={(e) => setQuiet('allowUrgent', e.target.checked)}
          />
          Let urgent notifications through by default
        </label>
      </fieldset>
      <div role="status" className="form-status">
        {save.isSuccess && <p className="form-ok">Workspace default updated.</p>}
      </div>
      <MutationError mutation={save} />
      <button type="submit" className="button button-primary" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save workspace default'}
      </button>
    </form>
  );
}

function WorkspaceSettings({ workspace }: { workspace: WorkspaceView }) {
  const config = useWorkspaceConfig(workspace.id);
  return <QueryState query={config}>{(view) => <WorkspaceDefaultForm workspace={workspace} view={view} />}</QueryState>;
}

/** What the browser allows, kept current when the person changes it in the browser's site settings. */
function useDesktopPermission(): [DesktopPermission, (permission: DesktopPermission) => void] {
  const [permission, setPermission] = useState(desktopPermission);
  useEffect(() => {
    let stopped = false;
    let status: PermissionStatus | null = null;
    const reread = () => setPermission(desktopPermission());
    window.addEventListener('focus', reread);
    navigator.permissions
      ?.query({ name: 'notifications' })
      .then((s) => {
        if (stopped) return;
        status = s;
        status.addEventListener('change', reread);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      window.removeEventListener('focus', reread);
      status?.removeEventListener('change', reread);
    };
  }, []);
  return [permission, setPermission];
}

/** The opt-in for desktop notifications: the only place Solo asks the browser for permission. */
function DesktopNotifications() {
  const [permission, setPermission] = useDesktopPermission();
  const [optedIn, setOptedIn] = useState(readDesktopOptIn);
  const [asking, setAsking] = useState(false);
  const [refused, setRefused] = useState(false);
  const setting = desktopSetting(permission, optedIn);

  const toggle = async (on: boolean) => {
    setRefused(false);
    if (!on) {
      writeDesktopOptIn(false);
      setOptedIn(false);
      return;
    }
    let allowed = permission;
    if (allowed !== 'granted') {
      setAsking(true);
      allowed = await requestDesktopPermission();
      setAsking(false);
      setPermission(allowed);
    }
    if (allowed === 'granted') {
      writeDesktopOptIn(true);
      setOptedIn(true);
    } else if (allowed === 'default') {
      setRefused(true);
    }
  };

  return (
    <section className="card form" aria-labelledby="desktop-title">
      <h2 id="desktop-title">Desktop notifications</h2>
      <p className="muted small">
        While Solo is open in a background tab, new notifications also appear on your desktop; click one to open
        it here. Quiet hours apply to them too. This setting is kept by this browser only.
      </p>
      <label className="check">
        <input
          type="checkbox"
          checked={setting === 'on'}
          disabled={asking || setting === 'unsupported' || setting === 'denied'}
          onChange={(e) => void toggle(e.target.checked)}
        />
        Show desktop notifications
      </label>
      <div role="status" className="form-status">
        {asking && <p className="muted small">Waiting for the browser’s answer…</p>}
        {setting === 'on' && <p className="form-ok">On: notifications that arrive while this tab is hidden appear on your desktop.</p>}
        {refused && setting === 'off' && (
          <p className="muted small">The browser did not give permission. Turn the setting on again to be asked again.</p>
        )}
        {setting === 'unsupported' && (
          <p className="muted small">
            This browser cannot show desktop notifications (some only offer them on pages served over HTTPS).
          </p>
        )}
        {setting === 'denied' && (
          <p className="form-error">
            This browser blocks notifications from Solo. To allow them, open the site settings (the icon at the left of
            the address bar), set Notifications to Allow, then come back to this page.
          </p>
        )}
      </div>
    </section>
  );
}

function CreatedTokenBox({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="token-once" role="alert">
      <p>
        <strong>Copy the token “{created.name}” now:</strong> it will not be shown again.
      </p>
      <code className="token-value" tabIndex={0}>
        {created.token}
      </code>
      <div className="card-actions">
        <button type="button" className="button" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button-quiet" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function TokenRow({ token }: { token: AccessToken }) {
  const revoke = useRevokeToken();
  const revoked = token.revokedAt !== null;
  return (
    <li className="card token-row">
      <div>
        <strong>{token.name}</strong>
        {revoked && <span className="badge"> Revoked</span>}
        <p className="muted small">
          Scopes: {token.scopes.join(', ') || '—'} · created {dateTime(token.createdAt)} · last used{' '}
          {token.lastUsedAt ? dateTime(token.lastUsedAt) : 'never'}
          {token.expiresAt ? ` · expires ${dateTime(token.expiresAt)}` : ''}
        </p>
      </div>
      {!revoked && (
        <button
          type="button"
          className="button button-danger"
          disabled={revoke.isPending}
          onClick={() => {
            if (window.confirm(`Revoke the token “${token.name}”? Programs using it will stop working.`)) {
              revoke.mutate(token);
            }
          }}
        >
          Revoke<span className="sr-only"> {token.name}</span>
        </button>
      )}
    </li>
  );
}

function Tokens() {
  const tokens = useTokens();
  const create = useCreateToken();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedToken | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    create.mutate(trimmed, {
      onSuccess: (token) => {
        setCreated(token);
        setName('');
      },
    });
  };

  return (
    <section className="card form" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Personal access tokens</h2>
      <p className="muted small">Tokens let scripts and the command line act as you.</p>
      <form className="inline-form" onSubmit={submit}>
        <label className="field grow">
          <span>Token name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="laptop CLI" />
        </label>
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Create token
        </button>
      </form>
      <MutationError mutation={create} />
      {created && <CreatedTokenBox created={created} onDone={() => setCreated(null)} />}
      <QueryState query={tokens}>
        {(data) =>
          data.items.length === 0 ? (
            <p className="muted">No token yet.</p>
          ) : (
            <ul className="token-list">
              {data.items.map((token) => (
                <TokenRow key={token.id} token={token} />
              ))}
            </ul>
          )
        }
      </QueryState>
    </section>
  );
}

export function SettingsPage() {
  const preferences = usePreferences();
  const me = useMe();
  // Only a workspace's admins may change its settings: the section is theirs alone.
  const administered = (me.data?.workspaces ?? []).filter((w) => w.role === 'admin');
  return (
    <section className="page settings" aria-labelledby="settings-title">
      <h1 id="settings-title">Settings</h1>
      <QueryState query={preferences}>{(data) => <QuietHoursForm prefs={data} />}</QueryState>
      <QueryState query={preferences}>{(data) => <SurfacesForm prefs={data} />}</QueryState>
      {administered.map((workspace) => (
        <WorkspaceSettings key={workspace.id} workspace={workspace} />
      ))}
      <DesktopNotifications />
      <Tokens />
    </section>
  );
}

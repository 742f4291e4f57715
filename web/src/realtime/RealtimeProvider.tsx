/**
 * One realtime connection per tab. Subscribes to the user's workspace channels
 * (with join/leave: who is online) and notification channel, plus the channels
 * pages ask for; applies every publication to the query cache; pops up new
 * notifications (a toast, and a desktop notification while the tab is hidden
 * and the person opted in); and, when the connection has been down for more
 * than {@link OFFLINE_AFTER_MS}, tells queries to poll instead. Where WebSocket
 * is refused it connects over HTTP-streaming or SSE (see `./connection`),
 * which is as live: nothing polls then.
 */
import { Centrifuge, UnauthorizedError, type Subscription } from 'centrifuge';
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router-dom';
import { toast } from 'sonner';
import { api, ApiError, errorMessage, getPollIntervalSeconds, subscribePollInterval } from '../api/client';
import { keys } from '../api/keys';
import type { ConnectionToken, EventEnvelope, Me, Notification, OnlineUser, Preferences } from '../api/types';
import {
  desktopPermission,
  desktopTarget,
  readDesktopOptIn,
  shouldShowDesktopNotification,
  showDesktopNotification,
  tabHidden,
} from '../lib/desktopNotifications';
import { peopleOf, SeenEvents, type PresenceClients } from './applyEvent';
import { applyEnvelope, invalidateChannel, setPeopleOnline, splitChannel, takePreferences } from './cache';
import {
  connectionStatus,
  emulationEndpoint,
  pollIntervalFor,
  transportEndpoints,
  transportOf,
  type ConnectionStatus,
  type RealtimeTransport,
} from './connection';
import { missionOfLink, toastsAllowed } from './preferences';

/** How long the connection may be down before the UI says so and starts polling. */
export const OFFLINE_AFTER_MS = 2000;
/** Notifications older than this when they arrive (a recovery after a long absence) do not pop up. */
const POP_UP_MAX_AGE_MS = 10 * 60 * 1000;

interface RealtimeContextValue {
  status: ConnectionStatus;
  /** The transport carrying the connection while live; null otherwise. */
  transport: RealtimeTransport | null;
  /** Milliseconds between polls while offline; false while live. */
  pollInterval: number | false;
  pollSeconds: number;
  /** Subscribes to a page's channel until the returned function is called. */
  watch: (channel: string) => () => void;
}

const RealtimeContext = createContext<RealtimeContextValue>({
  status: 'offline',
  transport: null,
  pollInterval: false,
  pollSeconds: 15,
  watch: () => () => undefined,
});

export function useRealtime(): RealtimeContextValue {
  return useContext(RealtimeContext);
}

/** `refetchInterval` for queries the realtime connection keeps fresh. */
export function usePollInterval(): number | false {
  return useContext(RealtimeContext).pollInterval;
}

/** Keeps a page channel (`mission:{id}`, `workstation:{id}`) subscribed while the page is shown. */
export function usePageChannel(channel: string | null): void {
  const { watch } = useRealtime();
  useEffect(() => (channel ? watch(channel) : undefined), [channel, watch]);
}

function usePollSeconds(): number {
  const [seconds, setSeconds] = useState(getPollIntervalSeconds);
  useEffect(() => subscribePollInterval(() => setSeconds(getPollIntervalSeconds())), []);
  return seconds;
}

/** True when a notification arriving now is old news: a recovery after a long absence brings those. */
function stale(notification: Notification): boolean {
  const age = Date.now() - Date.parse(notification.createdAt);
  return Number.isFinite(age) && age > POP_UP_MAX_AGE_MS;
}

/** The toast last shown for each notification, by notification id. */
const shownToasts = new Map<string, string>();

function toastNotification(notification: Notification, onMute: (missionId: string) => void): void {
  if (notification.quiet) return;
  const missionId = missionOfLink(notification.link);
  // One click mutes the mission the notification is about: nothing more of it reaches the user.
  const action = missionId ? { label: 'Mute mission', onClick: () => onMute(missionId) } : undefined;
  // A notification that a later event replaced pops up again, replacing its
  // earlier toast: that one is dismissed and the new one gets an id of its own
  // (per version). Reusing the id would update a toast still on screen but
  // show nothing when the earlier one was being dismissed (its action clicked).
  const id = `${notification.id}:${notification.version}`;
  const earlier = shownToasts.get(notification.id);
  if (earlier && earlier !== id) toast.dismiss(earlier);
  shownToasts.set(notification.id, id);
  if (shownToasts.size > 200) shownToasts.delete(shownToasts.keys().next().value as string);
  const options = { id, description: notification.body ?? undefined, action };
  if (notification.severity === 'urgent') toast.error(notification.title, options);
  else if (notification.severity === 'warning') toast.warning(notification.title, options);
  else toast.info(notification.title, options);
}

function userOf(info: { user: string; client: string; connInfo?: unknown }): OnlineUser {
  const raw = info as { connInfo?: { name?: unknown }; conn_info?: { name?: unknown } };
  const name = raw.connInfo?.name ?? raw.conn_info?.name;
  return { id: info.user, name: typeof name === 'string' && name ? name : info.user };
}

export function RealtimeProvider({ me, children }: { me: Me; children: ReactNode }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  // Read when a desktop notification is clicked: `navigate` changes with the route, the connection must not.
  const navigateRef = useRef(navigate);
  useEffect(() => {
    navigateRef.current = navigate;
  }, [navigate]);
  // Set while connected: which transport the SDK settled on.
  const [transport, setTransport] = useState<RealtimeTransport | null>(null);
  const [offline, setOffline] = useState(false);
  const pollSeconds = usePollSeconds();

  const clientRef = useRef<Centrifuge | null>(null);
  const seen = useRef(new SeenEvents());
  const pageChannels = useRef(new Map<string, number>());
  const presence = useRef(new Map<string, PresenceClients>());

  const workspaceIds = useMemo(() => me.workspaces.map((w) => w.id).sort(), [me.workspaces]);
  const workspaceKey = workspaceIds.join(',');

  /** Pops up a notification that has just arrived (its counts and inbox entry are in the cache already). */
  const popUp = useCallback((notification: Notification) => {
    if (stale(notification)) return;
    // The user switched pop-ups off for this category (Settings, or any other surface): none.
    if (!toastsAllowed(queryClient.getQueryData<Preferences>(keys.preferences), notification.category)) return;
    toastNotification(notification, (missionId) => {
      api.put<Preferences>(`/api/me/preferences/missions/${encodeURIComponent(missionId)}`, { rule: 'mute' }).then(
        (prefs) => {
          takePreferences(queryClient, prefs);
          toast.success('Mission muted');
        },
        (error: unknown) => toast.error(errorMessage(error)),
      );
    });
    const show = shouldShowDesktopNotification({
      hidden: tabHidden(),
      optedIn: readDesktopOptIn(),
      permission: desktopPermission(),
      quiet: notification.quiet,
    });
    if (!show) return;
    showDesktopNotification(notification, () => {
      const target = desktopTarget(notification.link);
      if (target.kind === 'route') navigateRef.current(target.path);
      else window.open(target.url, '_blank', 'noopener,noreferrer');
    });
  }, [queryClient]);

  /** Wires a subscription's events to the cache. */
  const subscribe = useCallback(
    (client: Centrifuge, channel: string): Subscription => {
      const existing = client.getSubscription(channel);
      if (existing) {
        existing.subscribe();
        return existing;
      }
      const [namespace, id] = splitChannel(channel);
      const isWorkspace = namespace === 'workspace';
      const sub = client.newSubscription(channel, { joinLeave: isWorkspace });

      sub.on('publication', (ctx) => {
        try {
          applyEnvelope(queryClient, seen.current, ctx.data as EventEnvelope, { onNotificationCreated: popUp });
        } catch (error) {
          console.error('could not apply an event', error);
          invalidateChannel(queryClient, channel);
        }
      });

      sub.on('subscribed', (ctx) => {
        // Events missed while away came back with the recovery: nothing to reload.
        // Otherwise (first subscribe, or a recovery that failed) reload what the
        // channel keeps fresh, so nothing published meanwhile is lost.
        if (!(ctx.wasRecovering && ctx.recovered)) invalidateChannel(queryClient, channel);
        if (!isWorkspace) return;
        sub
          .presence()
          .then((result) => {
            const clients: PresenceClients = new Map();
            for (const [clientId, info] of Object.entries(result.clients)) clients.set(clientId, userOf(info));
            presence.current.set(id, clients);
            setPeopleOnline(queryClient, id, peopleOf(clients));
          })
          .catch(() => void queryClient.invalidateQueries({ queryKey: keys.presence }));
      });

      if (isWorkspace) {
        sub.on('join', (ctx) => {
          const clients = presence.current.get(id) ?? new Map();
          clients.set(ctx.info.client, userOf(ctx.info));
          presence.current.set(id, clients);
          setPeopleOnline(queryClient, id, peopleOf(clients));
        });
        sub.on('leave', (ctx) => {
          const clients = presence.current.get(id);
          if (!clients) return;
          clients.delete(ctx.info.client);
          setPeopleOnline(queryClient, id, peopleOf(clients));
        });
      }

      sub.on('error', (ctx) => console.warn(`realtime: ${channel}`, ctx.error));
      sub.subscribe();
      return sub;
    },
    [queryClient, popUp],
  );

  const release = useCallback((client: Centrifuge, channel: string) => {
    const sub = client.getSubscription(channel);
    if (!sub) return;
    sub.unsubscribe();
    client.removeSubscription(sub);
  }, []);

  // The connection: fetch a token (it also says where to connect), then connect.
  useEffect(() => {
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;

    const fetchToken = async (): Promise<ConnectionToken> => {
      try {
        return await api.post<ConnectionToken>('/api/realtime/token');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          void queryClient.invalidateQueries({ queryKey: keys.me });
          throw new UnauthorizedError('signed out');
        }
        throw error;
      }
    };

    const start = async () => {
      let first: ConnectionToken;
      try {
        first = await fetchToken();
      } catch (error) {
        if (stopped || error instanceof UnauthorizedError) return;
        attempt += 1;
        const delay = Math.min(1000 * 2 ** Math.min(attempt, 4), 15000) * (0.75 + Math.random() / 2);
        retry = setTimeout(() => void start(), delay);
        return;
      }
      if (stopped) return;
      const origin = window.location.origin;
      const client = new Centrifuge(transportEndpoints(first.url, origin), {
        emulationEndpoint: emulationEndpoint(origin),
        token: first.token,
        getToken: async () => (await fetchToken()).token,
      });
      client.on('connected', (ctx) => setTransport(transportOf(ctx.transport)));
      client.on('state', (ctx) => {
        if (ctx.newState !== 'connected') setTransport(null);
      });
      client.on('error', (ctx) => console.warn('realtime', ctx.error));
      clientRef.current = client;
      for (const workspaceId of workspaceKey ? workspaceKey.split(',') : []) subscribe(client, `workspace:${workspaceId}`);
      subscribe(client, `notifications:${me.id}`);
      for (const channel of pageChannels.current.keys()) subscribe(client, channel);
      client.connect();
    };

    void start();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      clientRef.current?.disconnect();
      clientRef.current = null;
      presence.current.clear();
      setTransport(null);
    };
  }, [me.id, workspaceKey, queryClient, subscribe]);

  // Offline after the connection has been down for a while; live again as soon as it is back.
  const connected = transport !== null;
  useEffect(() => {
    if (connected) {
      setOffline(false);
      return;
    }
    const timer = setTimeout(() => setOffline(true), OFFLINE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [connected]);

  const watch = useCallback(
    (channel: string) => {
      const count = pageChannels.current.get(channel) ?? 0;
      pageChannels.current.set(channel, count + 1);
      const client = clientRef.current;
      if (count === 0 && client) subscribe(client, channel);
      return () => {
        const left = (pageChannels.current.get(channel) ?? 1) - 1;
        if (left > 0) {
          pageChannels.current.set(channel, left);
          return;
        }
        pageChannels.current.delete(channel);
        const current = clientRef.current;
        // The user's own channels stay subscribed whatever pages come and go.
        if (current && !channel.startsWith('workspace:') && !channel.startsWith('notifications:')) {
          release(current, channel);
        }
      };
    },
    [subscribe, release],
  );

  const status = connectionStatus(transport, offline);
  const value = useMemo<RealtimeContextValue>(
    () => ({ status, transport, pollInterval: pollIntervalFor(status, pollSeconds), pollSeconds, watch }),
    [status, transport, pollSeconds, watch],
  );
  return <RealtimeContext.Provider value={value}>{children}</RealtimeContext.Provider>;
}

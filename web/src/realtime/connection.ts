/**
 * Where the realtime connection goes and what the header says about it.
 *
 * WebSocket comes first. Some networks and proxies refuse it; the SDK then
 * falls back to HTTP-streaming, then SSE, both on the page's own origin (the
 * client's later commands go to `/emulation`), and keeps the transport that
 * opened for its reconnects. A stream carries the same pushes as the socket,
 * so it is as live: queries do not poll over it.
 */
import type { TransportEndpoint } from 'centrifuge';

/** The transports the UI offers, in the order they are tried. */
export type RealtimeTransport = 'websocket' | 'http_stream' | 'sse';

export type ConnectionStatus = 'live' | 'reconnecting' | 'offline';

/** What the header's connection indicator shows: live splits by how the pushes come. */
export type ConnectionView = 'websocket' | 'streaming' | 'reconnecting' | 'offline';

/**
 * The SDK's transport list: the WebSocket URL the token answered, then the
 * HTTP transports on `origin` (the server builds that URL from `SOLO_PUBLIC_URL`
 * or the Host the page was loaded from, so both reach the same server).
 */
export function transportEndpoints(websocketUrl: string, origin: string): TransportEndpoint[] {
  return [
    { transport: 'websocket', endpoint: websocketUrl },
    { transport: 'http_stream', endpoint: `${origin}/connection/http_stream` },
    { transport: 'sse', endpoint: `${origin}/connection/sse` },
  ];
}

/** Where the HTTP transports post the client's commands after the stream opened. */
export function emulationEndpoint(origin: string): string {
  return `${origin}/emulation`;
}

/** The transport a `connected` event names, or null for one the UI never offers. */
export function transportOf(name: string): RealtimeTransport | null {
  return name === 'websocket' || name === 'http_stream' || name === 'sse' ? name : null;
}

/**
 * Live whenever some transport is connected, whichever it is; offline once it
 * has been down long enough (`downTooLong`); reconnecting in between.
 */
export function connectionStatus(transport: RealtimeTransport | null, downTooLong: boolean): ConnectionStatus {
  if (transport) return 'live';
  return downTooLong ? 'offline' : 'reconnecting';
}

/** Milliseconds between polls of the queries pushes keep fresh: only while offline. */
export function pollIntervalFor(status: ConnectionStatus, pollSeconds: number): number | false {
  return status === 'offline' ? pollSeconds * 1000 : false;
}

export function connectionView(status: ConnectionStatus, transport: RealtimeTransport | null): ConnectionView {
  if (status !== 'live') return status;
  return transport === 'websocket' ? 'websocket' : 'streaming';
}

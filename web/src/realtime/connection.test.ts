import { describe, expect, it } from 'vitest';
import {
  connectionStatus,
  connectionView,
  emulationEndpoint,
  pollIntervalFor,
  transportEndpoints,
  transportOf,
} from './connection';

describe('transports', () => {
  const origin = 'https://solo.example.com';

  it('tries the token’s WebSocket URL first, then HTTP-streaming and SSE on the page’s origin', () => {
    expect(transportEndpoints('wss://solo.example.com/connection/websocket', origin)).toEqual([
      { transport: 'websocket', endpoint: 'wss://solo.example.com/connection/websocket' },
      { transport: 'http_stream', endpoint: 'https://solo.example.com/connection/http_stream' },
      { transport: 'sse', endpoint: 'https://solo.example.com/connection/sse' },
    ]);
    expect(emulationEndpoint(origin)).toBe('https://solo.example.com/emulation');
  });

  it('knows only the transports it offers', () => {
    expect(transportOf('websocket')).toBe('websocket');
    expect(transportOf('http_stream')).toBe('http_stream');
    expect(transportOf('sse')).toBe('sse');
    expect(transportOf('sockjs')).toBeNull();
  });
});

describe('connection status', () => {
  it('is live over any transport, even once it had been down long enough to be offline', () => {
    for (const transport of ['websocket', 'http_stream', 'sse'] as const) {
      expect(connectionStatus(transport, false)).toBe('live');
      expect(connectionStatus(transport, true)).toBe('live');
    }
  });

  it('is reconnecting while down briefly, then offline', () => {
    expect(connectionStatus(null, false)).toBe('reconnecting');
    expect(connectionStatus(null, true)).toBe('offline');
  });

  it('polls only while offline: a stream pushes as the socket does', () => {
    expect(pollIntervalFor(connectionStatus('websocket', false), 15)).toBe(false);
    expect(pollIntervalFor(connectionStatus('http_stream', false), 15)).toBe(false);
    expect(pollIntervalFor(connectionStatus('sse', false), 15)).toBe(false);
    expect(pollIntervalFor(connectionStatus(null, false), 15)).toBe(false);
    expect(pollIntervalFor(connectionStatus(null, true), 15)).toBe(15_000);
  });

  it('shows live over WebSocket apart from live over a stream', () => {
    expect(connectionView('live', 'websocket')).toBe('websocket');
    expect(connectionView('live', 'http_stream')).toBe('streaming');
    expect(connectionView('live', 'sse')).toBe('streaming');
    expect(connectionView('reconnecting', null)).toBe('reconnecting');
    expect(connectionView('offline', null)).toBe('offline');
  });
});

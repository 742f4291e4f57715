/**
 * Fetch helpers for the Solo API: same-origin, cookie session, `X-CSRF-Token`
 * on every state-changing request, JSON errors thrown as {@link ApiError}.
 * Responses are never revalidated with ETags here: the realtime connection (or,
 * when it is down, polling) keeps data fresh.
 */
import type { ErrorBody } from './types';

export const CSRF_COOKIE = 'solo_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';
export const DEFAULT_POLL_INTERVAL_SECONDS = 15;

/** An error answered by the server (or a network failure, with status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

/** A message fit to show a person, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}

// ---------------------------------------------------------------- CSRF

let csrfFromLogin: string | null = null;

/** Keeps the token returned by sign-in, used when the cookie cannot be read. */
export function setCsrfToken(token: string | null): void {
  csrfFromLogin = token;
}

export function readCookie(cookieHeader: string, name: string): string | null {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return null;
}

export function csrfToken(): string | null {
  const fromCookie = typeof document === 'undefined' ? null : readCookie(document.cookie, CSRF_COOKIE);
  return fromCookie || csrfFromLogin;
}

// ---------------------------------------------------------------- poll interval

let pollIntervalSeconds = DEFAULT_POLL_INTERVAL_SECONDS;
const pollListeners = new Set<() => void>();

/** The latest `X-Poll-Interval` the server sent (seconds). */
export function getPollIntervalSeconds(): number {
  return pollIntervalSeconds;
}

export function subscribePollInterval(listener: () => void): () => void {
  pollListeners.add(listener);
  return () => pollListeners.delete(listener);
}

function notePollInterval(headers: Headers): void {
  const raw = headers.get('X-Poll-Interval');
  if (!raw) return;
  const seconds = Number.parseInt(raw, 10);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds === pollIntervalSeconds) return;
  pollIntervalSeconds = Math.min(seconds, 3600);
  pollListeners.forEach((listener) => listener());
}

// ---------------------------------------------------------------- requests

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    body = null;
  }
  const code = typeof body?.code === 'string' ? body.code : `http_${response.status}`;
  const message =
    typeof body?.message === 'string' && body.message
      ? body.message
      : `The server answered ${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, code, message);
}

/** Sends one request; resolves to the parsed JSON body (undefined for 204). */
export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const token = csrfToken();
    if (token) headers[CSRF_HEADER] = token;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.');
  }
  notePollInterval(response.headers);
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, { signal }),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, { body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
};

/** `?a=1&b=2` from the defined values, or an empty string. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

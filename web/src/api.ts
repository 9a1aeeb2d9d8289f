/**
 * The console's API client: every call carries the API key (kept in session storage, never in the URL) and the
 * chosen sandbox; failures come back as `ApiError` with the platform's stable error code and message, which the
 * screens show as they are.
 */

export interface Session {
  token: string;
  sandbox: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'roundtrip.session';

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(STORAGE_KEY);
  return raw ? (JSON.parse(raw) as Session) : null;
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
}

export type Json = Record<string, unknown>;

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return new ApiError(response.status, body.error?.code ?? `HTTP_${response.status}`, body.error?.message ?? text);
  } catch {
    return new ApiError(response.status, `HTTP_${response.status}`, text || response.statusText);
  }
}

export function createClient(session: Session) {
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    authorization: `Bearer ${session.token}`,
    'x-sandbox-name': session.sandbox,
    ...extra,
  });
  async function request<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw await failure(response);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get('content-type') ?? '';
    return (type.includes('json') ? await response.json() : await response.text()) as T;
  }
  /** Raw upload (a file body) with progress, for batch ingestion. */
  function upload(path: string, file: Blob, onProgress: (fraction: number) => void): Promise<Json> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', path);
      for (const [name, value] of Object.entries(headers({ 'content-type': 'application/octet-stream' }))) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.responseText ? (JSON.parse(xhr.responseText) as Json) : {});
        else void failure(new Response(xhr.responseText, { status: xhr.status })).then(reject);
      };
      xhr.onerror = () => reject(new ApiError(0, 'RT_NETWORK', 'The server could not be reached.'));
      xhr.send(file);
    });
  }
  return {
    session,
    get: <T = Json>(path: string) => request<T>('GET', path),
    post: <T = Json>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
    patch: <T = Json>(path: string, body?: unknown) => request<T>('PATCH', path, body ?? {}),
    put: <T = Json>(path: string, body?: unknown) => request<T>('PUT', path, body ?? {}),
    del: <T = Json>(path: string) => request<T>('DELETE', path),
    upload,
  };
}

export type Client = ReturnType<typeof createClient>;

// The console's one way to call the /v1 API: same-origin fetch with the
// session cookie, the X-ZTP-Console header (ztpd refuses cookie-authenticated
// changes without it), and every problem+json turned into an ApiError.

/** An answer that was not 2xx (or no answer at all: status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || (status ? 'The server answered ' + status : 'The server could not be reached'));
    this.name = 'ApiError';
    this.status = status;
    this.problem = p;
    this.detail = this.message;
    // [{field, detail}]: what the API found wrong, per field of the request
    this.errors = Array.isArray(p.errors) ? p.errors : [];
  }
}

// Listeners called with no argument when /v1 answers 401 (no or expired session).
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? path + (path.includes('?') ? '&' : '?') + s : path;
}

/**
 * request(method, path, {query, body, contentType, headers, signal})
 * body: an object or array (sent as JSON), or a string/Blob/File (sent as
 * is, with contentType). Resolves to the parsed JSON answer (null for 204),
 * rejects with ApiError. `path` is absolute ("/v1/devices").
 */
export async function request(method, path, opts = {}) {
  const headers = { 'X-ZTP-Console': '1', Accept: 'application/json, application/problem+json' };
  let body;
  if (opts.body !== undefined && opts.body !== null) {
    const raw = typeof opts.body === 'string' || opts.body instanceof Blob;
    body = raw ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = opts.contentType || (raw ? 'text/plain' : 'application/json');
  }
  Object.assign(headers, opts.headers || {});
  let res;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method, headers, body, credentials: 'same-origin', cache: 'no-store', signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, null);
  }
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (res.status !== 204 && /json/.test(type)) {
    try { data = await res.json(); } catch (e) { data = null; }
  }
  if (res.ok) return data;
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn());
  throw new ApiError(res.status, data);
}

export const get = (path, query, opts) => request('GET', path, { ...opts, query });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const put = (path, body, opts) => request('PUT', path, { ...opts, body });
export const patch = (path, body, opts) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** Encodes one path segment (a MAC, an id) for use in a /v1 path. */
export const seg = (s) => encodeURIComponent(String(s));

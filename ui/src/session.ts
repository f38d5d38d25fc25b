// The signed-in state, read once at start-up from GET /api/v1/session and changed by signing
// in and out. A 401 from any call drops it, which shows the sign-in form.
import { createSignal } from 'solid-js';
import { del, get, post, setCsrfToken, setUnauthorizedHandler } from './api';
import type { Session } from './types';

const [session, setSessionSignal] = createSignal<Session | null>(null);
export { session };

function setSession(value: Session) {
  setCsrfToken(value.csrf_token);
  setSessionSignal(value);
}

export async function loadSession() {
  setSession(await get<Session>('session'));
}

export async function signIn(username: string, password: string) {
  setSession(await post<Session>('session', { username, password }));
}

export async function signOut() {
  try {
    await del('session');
  } finally {
    await loadSession();
  }
}

setUnauthorizedHandler(() => {
  const current = session();
  if (current) {
    setSession({ ...current, signed_in: false, user: null, csrf_token: null });
  }
});

// Whether the UI may show the pages: signed in, or access control is off (open mode).
export const mayBrowse = () => {
  const current = session();
  return current !== null && (!current.access_control || current.signed_in);
};

export const isAdmin = () => {
  const current = session();
  return current !== null && (!current.access_control || current.user?.admin === true);
};

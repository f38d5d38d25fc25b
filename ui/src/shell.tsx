// The frame around every page: header and navigation, the open-mode banner, the theme switch,
// and the sign-in form in place of the page while nobody is signed in.
import { A, type RouteSectionProps } from '@solidjs/router';
import { createResource, Match, Show, Switch } from 'solid-js';
import { ErrorNote } from './components';
import { SignIn } from './pages/sign_in';
import { isAdmin, loadSession, mayBrowse, session, signOut } from './session';
import { theme, toggleTheme } from './theme';

export function Shell(props: RouteSectionProps) {
  const [loaded] = createResource(loadSession);
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => {
        event.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <A href="/" class="brand" end>
          Berth
        </A>
        <Show when={mayBrowse()}>
          <nav aria-label="Main">
            <A href="/" end>
              Projects
            </A>
            <A href="/search">Search</A>
            <Show when={isAdmin()}>
              <A href="/admin">Administration</A>
            </Show>
          </nav>
        </Show>
        <div class="spacer" />
        <button
          type="button"
          class="theme"
          aria-label={theme() === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
          aria-pressed={theme() === 'dark'}
          onClick={toggleTheme}
        >
          {theme() === 'dark' ? '☀ Light' : '☾ Dark'}
        </button>
        <Show when={session()?.signed_in}>
          <span class="user">{session()!.user?.name}</span>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </Show>
      </header>
      <Show when={session() && !session()!.access_control}>
        <p class="banner" role="note">
          Access control is off: this registry is open, and anyone who can reach it may read, push
          and delete without signing in.
        </p>
      </Show>
      <main id="main" tabindex="-1">
        <Switch>
          <Match when={loaded.error}>
            <ErrorNote error={loaded.error} />
          </Match>
          <Match when={!session()}>
            <p class="muted" role="status">
              Loading…
            </p>
          </Match>
          <Match when={!mayBrowse()}>
            <SignIn />
          </Match>
          <Match when={true}>{props.children}</Match>
        </Switch>
      </main>
      <footer class="foot">
        <span>Berth {session()?.version ?? ''}</span>
      </footer>
    </>
  );
}

// The sign-in form: same accounts, throttling and lockout as the registry (the server decides).
import { createSignal, Show } from 'solid-js';
import { ErrorNote } from '../components';
import { signIn } from '../session';

export function SignIn() {
  const [error, setError] = createSignal<unknown>(null);
  const [busy, setBusy] = createSignal(false);
  let username!: HTMLInputElement;
  let password!: HTMLInputElement;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username.value, password.value);
    } catch (caught) {
      setError(caught);
      password.value = '';
      password.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="signin">
      <h1>Sign in to Berth</h1>
      <form onSubmit={submit}>
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required ref={username} autofocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required ref={password} />
        <Show when={error()}>
          <ErrorNote error={error()} />
        </Show>
        <button type="submit" class="primary" disabled={busy()}>
          Sign in
        </button>
      </form>
    </section>
  );
}

// Administration: users, all robots, garbage collection, proxy projects, the server.
import { useSearchParams } from '@solidjs/router';
import { createResource, createSignal, For, Match, Show, Switch } from 'solid-js';
import { get, patch, post, seg, del } from '../api';
import { ActionOutcome, Confirm, Loaded } from '../components';
import { ago, bytes, when } from '../format';
import { CreateRobot, RobotTable } from '../robots';
import { isAdmin, session } from '../session';
import { Tabs } from '../components';
import type { GcReport, GcRun, ProxyStats, Robot, System, User } from '../types';

export function AdminPage() {
  const [search] = useSearchParams();
  const tab = () => (search.tab as string) ?? 'users';
  return (
    <section>
      <h1>Administration</h1>
      <Show when={isAdmin()} fallback={<p class="error">Only administrators see this page.</p>}>
        <Tabs
          label="Administration sections"
          current={tab()}
          tabs={[
            { id: 'users', label: 'Users', href: '/admin' },
            { id: 'robots', label: 'Robots', href: '/admin?tab=robots' },
            { id: 'gc', label: 'Garbage collection', href: '/admin?tab=gc' },
            { id: 'proxies', label: 'Proxies', href: '/admin?tab=proxies' },
            { id: 'system', label: 'System', href: '/admin?tab=system' },
          ]}
        />
        <Switch>
          <Match when={tab() === 'robots'}>
            <AllRobots />
          </Match>
          <Match when={tab() === 'gc'}>
            <GarbageCollection />
          </Match>
          <Match when={tab() === 'proxies'}>
            <Proxies />
          </Match>
          <Match when={tab() === 'system'}>
            <SystemFacts />
          </Match>
          <Match when={true}>
            <Users />
          </Match>
        </Switch>
      </Show>
    </section>
  );
}

function useAction(after: () => void) {
  const [error, setError] = createSignal<unknown>(null);
  const [message, setMessage] = createSignal('');
  const act = async (action: () => Promise<unknown>, done?: string) => {
    try {
      await action();
      setError(null);
      setMessage(done ?? '');
    } catch (caught) {
      setError(caught);
      setMessage('');
    }
    after();
  };
  return { error, message, act };
}

function Users() {
  const [users, { refetch }] = createResource(() => get<User[]>('users'));
  const { error, message, act } = useAction(refetch);
  const [resetting, setResetting] = createSignal<string | null>(null);
  const [doomed, setDoomed] = createSignal<string | null>(null);
  let name!: HTMLInputElement;
  let password!: HTMLInputElement;
  let admin!: HTMLInputElement;
  let newPassword!: HTMLInputElement;
  const create = (event: SubmitEvent) => {
    event.preventDefault();
    const user = name.value.trim();
    void act(async () => {
      await post('users', { name: user, password: password.value, admin: admin.checked });
      name.value = '';
      password.value = '';
      admin.checked = false;
    }, `User ${user} created.`);
  };
  const reset = (event: SubmitEvent) => {
    event.preventDefault();
    const user = resetting()!;
    void act(async () => {
      await patch(`users/${seg(user)}`, { password: newPassword.value });
      setResetting(null);
    }, `The password of ${user} was reset; their sessions have ended.`);
  };
  const me = () => session()?.user?.name;
  return (
    <>
      <h2>Users</h2>
      <ActionOutcome message={message()} error={error()} />
      <Loaded data={users}>
        {(list) => (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Administrator</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                <For each={list()}>
                  {(user) => (
                    <tr>
                      <th scope="row">{user.name}</th>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`${user.name} is an administrator`}
                          checked={user.admin}
                          disabled={user.name === me()}
                          onChange={(event) => act(() => patch(`users/${seg(user.name)}`, { admin: event.currentTarget.checked }))}
                        />
                      </td>
                      <td>{ago(user.created)}</td>
                      <td class="buttons">
                        <button type="button" class="small" aria-label={`Reset password of ${user.name}`} onClick={() => setResetting(user.name)}>
                          Reset password
                        </button>
                        <button type="button" class="small" aria-label={`Unlock ${user.name}`} onClick={() => act(() => post(`users/${seg(user.name)}/unlock`), `${user.name} is unlocked.`)}>
                          Unlock
                        </button>
                        <Show when={user.name !== me()}>
                          <button type="button" class="small danger" aria-label={`Delete user ${user.name}`} onClick={() => setDoomed(user.name)}>
                            Delete
                          </button>
                        </Show>
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      <Show when={resetting()}>
        <form class="inline" onSubmit={reset}>
          <label>
            New password for {resetting()}
            <input ref={newPassword} type="password" minlength="8" required autocomplete="new-password" />
          </label>
          <button type="submit" class="primary">
            Set password
          </button>
          <button type="button" onClick={() => setResetting(null)}>
            Cancel
          </button>
        </form>
      </Show>
      <h3>New user</h3>
      <form class="inline" onSubmit={create}>
        <label>
          New username
          <input ref={name} required autocomplete="off" />
        </label>
        <label>
          Initial password
          <input ref={password} type="password" minlength="8" required autocomplete="new-password" />
        </label>
        <label class="check">
          <input ref={admin} type="checkbox" /> Administrator
        </label>
        <button type="submit" class="primary">
          Create user
        </button>
      </form>
      <Confirm
        open={doomed() !== null}
        title={`Delete user ${doomed() ?? ''}?`}
        confirmLabel="Delete user"
        danger
        onConfirm={() => {
          const user = doomed()!;
          setDoomed(null);
          void act(() => del(`users/${seg(user)}`), `User ${user} deleted.`);
        }}
        onCancel={() => setDoomed(null)}
      >
        <p>
          {doomed()} loses every membership and their sessions end. Their pushed images stay.
        </p>
      </Confirm>
    </>
  );
}

function AllRobots() {
  const [robots, { refetch }] = createResource(() => get<Robot[]>('robots'));
  return (
    <>
      <h2>Robots</h2>
      <Loaded data={robots}>{(list) => <RobotTable robots={list()} onChanged={refetch} />}</Loaded>
      <h3>New robot</h3>
      <CreateRobot onCreated={refetch} />
    </>
  );
}

function GcSummary(props: { report: GcReport }) {
  const r = () => props.report;
  return (
    <>
      {r().manifests_removed} manifests, {r().blobs_removed} blobs, {bytes(r().bytes_reclaimed)}
      {r().errors.length > 0 ? `, ${r().errors.length} errors` : ''}
    </>
  );
}

function GarbageCollection() {
  const [runs, { refetch }] = createResource(() => get<{ runs: GcRun[] }>('gc'));
  const [preview, setPreview] = createSignal<GcReport | null>(null);
  const [busy, setBusy] = createSignal(false);
  const { error, message, act } = useAction(refetch);
  const collect = (dryRun: boolean) => {
    setBusy(true);
    void act(async () => {
      const report = await post<GcReport>('gc', { dry_run: dryRun });
      setPreview(dryRun ? report : null);
    }, dryRun ? '' : 'Garbage collection finished.').finally(() => setBusy(false));
  };
  return (
    <>
      <h2>Garbage collection</h2>
      <p class="muted">Removes the blobs and manifests no tag or index reaches any more.</p>
      <div class="actions left">
        <button type="button" disabled={busy()} onClick={() => collect(true)}>
          Preview (dry run)
        </button>
        <button type="button" class="danger" disabled={busy()} onClick={() => collect(false)}>
          Run now
        </button>
      </div>
      <ActionOutcome message={message()} error={error()} />
      <Show when={preview()}>
        {(r) => (
          <p role="status" class="preview" data-testid="gc-preview">
            A collection now would remove <GcSummary report={r()} /> (reclaiming <strong>{bytes(r().bytes_reclaimed)}</strong>).
          </p>
        )}
      </Show>
      <h3>Last runs</h3>
      <Loaded data={runs}>
        {(list) => (
          <Show when={list().runs.length > 0} fallback={<p class="muted">No collection has run yet.</p>}>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Started</th>
                    <th scope="col">Kind</th>
                    <th scope="col">By</th>
                    <th scope="col">Removed</th>
                    <th scope="col" class="num">
                      Took
                    </th>
                  </tr>
                </thead>
                <tbody>
                  <For each={list().runs}>
                    {(run) => (
                      <tr>
                        <th scope="row">{when(run.started)}</th>
                        <td>{run.dry_run ? 'dry run' : 'collection'}</td>
                        <td>{run.by}</td>
                        <td>
                          <GcSummary report={run.report} />
                        </td>
                        <td class="num">{((run.finished - run.started) / 1000).toFixed(1)} s</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
          </Show>
        )}
      </Loaded>
    </>
  );
}

function Proxies() {
  const [proxies] = createResource(() => get<ProxyStats[]>('proxies'));
  return (
    <>
      <h2>Proxy projects</h2>
      <p class="muted">Counts since this server process started.</p>
      <Loaded data={proxies}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">No proxy or overlay projects.</p>}>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Project</th>
                    <th scope="col">Upstream</th>
                    <th scope="col" class="num">Hits</th>
                    <th scope="col" class="num">Misses</th>
                    <th scope="col" class="num">Stale serves</th>
                    <th scope="col" class="num">Blobs fetched</th>
                    <th scope="col" class="num">Upstream errors</th>
                  </tr>
                </thead>
                <tbody>
                  <For each={list()}>
                    {(p) => (
                      <tr>
                        <th scope="row">
                          {p.project} <span class="pill">{p.kind}</span>
                        </th>
                        <td>{p.upstream}</td>
                        <td class="num">{p.manifest_hits}</td>
                        <td class="num">{p.manifest_fetches}</td>
                        <td class="num">{p.stale_serves}</td>
                        <td class="num">
                          {p.blob_fetches} ({bytes(p.blob_bytes_fetched)})
                        </td>
                        <td class="num">{p.upstream_errors}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
          </Show>
        )}
      </Loaded>
    </>
  );
}

function SystemFacts() {
  const [system] = createResource(() => get<System>('system'));
  return (
    <>
      <h2>System</h2>
      <Loaded data={system}>
        {(s) => (
          <dl class="facts">
            <dt>Version</dt>
            <dd>{s().version}</dd>
            <dt>Metadata</dt>
            <dd>{s().metadata}</dd>
            <dt>Storage</dt>
            <dd>
              {s().storage}: {bytes(s().bytes)} in {s().blobs} blobs
            </dd>
            <dt>Projects</dt>
            <dd>{s().projects}</dd>
            <dt>Repositories</dt>
            <dd>{s().repositories}</dd>
            <dt>Access control</dt>
            <dd>{s().access_control ? 'on' : 'off (open registry)'}</dd>
          </dl>
        )}
      </Loaded>
    </>
  );
}

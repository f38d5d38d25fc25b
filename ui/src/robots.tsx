// Robot accounts: the table (a project's robots, or all of them for administrators) and the
// creation form that shows the new token once.
import { createSignal, For, Show } from 'solid-js';
import { del, post, seg } from './api';
import { CopyButton, ErrorNote } from './components';
import { ago, when } from './format';
import { isAdmin } from './session';
import { type Robot, roles } from './types';

export function RobotTable(props: { robots: Robot[]; onChanged: () => void }) {
  const [error, setError] = createSignal<unknown>(null);
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setError(null);
    } catch (caught) {
      setError(caught);
    }
    props.onChanged();
  };
  return (
    <>
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
      <Show when={props.robots.length > 0} fallback={<p class="muted">No robots.</p>}>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Robot</th>
                <th scope="col">Projects</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <Show when={isAdmin()}>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </Show>
              </tr>
            </thead>
            <tbody>
              <For each={props.robots}>
                {(robot) => (
                  <tr>
                    <th scope="row">
                      <code>{robot.user}</code>
                      <Show when={robot.description}>
                        <div class="muted">{robot.description}</div>
                      </Show>
                    </th>
                    <td>{robot.projects.map((s) => `${s.project}:${s.role}`).join(', ')}</td>
                    <td>{ago(robot.created)}</td>
                    <td>{robot.expires ? when(robot.expires) : 'never'}</td>
                    <td>{ago(robot.last_used)}</td>
                    <td>{robot.revoked ? <span class="pill bad">revoked</span> : <span class="pill ok">active</span>}</td>
                    <Show when={isAdmin()}>
                      <td class="buttons">
                        <Show when={!robot.revoked}>
                          <button type="button" class="small" aria-label={`Revoke ${robot.name}`} onClick={() => act(() => post(`robots/${seg(robot.name)}/revoke`))}>
                            Revoke
                          </button>
                        </Show>
                        <button type="button" class="small danger" aria-label={`Delete ${robot.name}`} onClick={() => act(() => del(`robots/${seg(robot.name)}`))}>
                          Delete
                        </button>
                      </td>
                    </Show>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </div>
      </Show>
    </>
  );
}

// project: robots made here are scoped to that project (an owner may make no other kind).
export function CreateRobot(props: { project?: string; onCreated: () => void }) {
  const [error, setError] = createSignal<unknown>(null);
  const [created, setCreated] = createSignal<Robot | null>(null);
  let name!: HTMLInputElement;
  let project!: HTMLInputElement;
  let role!: HTMLSelectElement;
  let description!: HTMLInputElement;
  let days!: HTMLInputElement;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name: name.value.trim(),
      description: description.value,
      projects: [{ project: props.project ?? project.value.trim(), role: role.value }],
    };
    if (days.value) {
      body.expires_in_days = Number(days.value);
    }
    try {
      setCreated(await post<Robot>('robots', body));
      setError(null);
      name.value = '';
      description.value = '';
      props.onCreated();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <>
      <form class="inline" onSubmit={submit}>
        <label>
          Robot name
          <input ref={name} required autocomplete="off" />
        </label>
        <Show when={!props.project}>
          <label>
            Project
            <input ref={project} required autocomplete="off" />
          </label>
        </Show>
        <div class="field">
          <label for="robot-role">Robot role</label>
          <select id="robot-role" ref={role}>
            <For each={roles}>{(r) => <option value={r} selected={r === 'writer'}>{r}</option>}</For>
          </select>
        </div>
        <label>
          Description
          <input ref={description} autocomplete="off" />
        </label>
        <label>
          Expires in days
          <input ref={days} type="number" min="1" inputmode="numeric" />
        </label>
        <button type="submit" class="primary">
          Create robot
        </button>
      </form>
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
      <Show when={created()}>
        {(robot) => (
          <div class="token" role="status">
            <p>
              Robot <code>{robot().user}</code> created. Its token is shown only this once:
            </p>
            <p class="copyline">
              <code class="secret">{robot().token}</code>
              <CopyButton text={robot().token ?? ''} label="Copy the robot token" />
            </p>
            <button type="button" class="small" onClick={() => setCreated(null)}>
              Done, hide the token
            </button>
          </div>
        )}
      </Show>
    </>
  );
}

// A project's members and their roles (owners, maintainers and administrators manage them).
import { createResource, createSignal, For, Show } from 'solid-js';
import { del, get, put, seg } from '../api';
import { ErrorNote, Loaded } from '../components';
import { type Member, type Project, roles } from '../types';

export function ProjectMembers(props: { project: Project }) {
  const base = () => `projects/${seg(props.project.name)}/members`;
  const [members, { refetch }] = createResource(() => get<Member[]>(base()));
  const [error, setError] = createSignal<unknown>(null);
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setError(null);
    } catch (caught) {
      setError(caught);
    }
    refetch();
  };
  let user!: HTMLInputElement;
  let role!: HTMLSelectElement;
  const add = (event: SubmitEvent) => {
    event.preventDefault();
    const name = user.value.trim();
    void act(async () => {
      await put(`${base()}/${seg(name)}`, { role: role.value });
      user.value = '';
    });
  };
  return (
    <>
      <h2>Members</h2>
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
      <Loaded data={members}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">No members: only administrators (and robots) have access.</p>}>
            <table>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                <For each={list()}>
                  {(member) => (
                    <tr>
                      <th scope="row">{member.user}</th>
                      <td>
                        <select
                          aria-label={`Role of ${member.user}`}
                          value={member.role}
                          onChange={(event) => act(() => put(`${base()}/${seg(member.user)}`, { role: event.currentTarget.value }))}
                        >
                          <For each={roles}>{(r) => <option value={r}>{r}</option>}</For>
                        </select>
                      </td>
                      <td>
                        <button type="button" class="small" aria-label={`Remove ${member.user}`} onClick={() => act(() => del(`${base()}/${seg(member.user)}`))}>
                          Remove
                        </button>
                      </td>
                    </tr>
                  )}
                </For>
              </tbody>
            </table>
          </Show>
        )}
      </Loaded>
      <form class="inline" onSubmit={add}>
        <label>
          Username
          <input ref={user} required autocomplete="off" />
        </label>
        <div class="field">
          <label for="member-role">Role</label>
          <select id="member-role" ref={role}>
            <For each={roles}>{(r) => <option value={r} selected={r === 'reader'}>{r}</option>}</For>
          </select>
        </div>
        <button type="submit" class="primary">
          Add member
        </button>
      </form>
    </>
  );
}

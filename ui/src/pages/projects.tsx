// Projects: every project the caller may see, with what it holds; create and delete.
import { A } from '@solidjs/router';
import { createResource, createSignal, For, Show } from 'solid-js';
import { del, get, post, seg } from '../api';
import { Confirm, ErrorNote, Loaded, Usage } from '../components';
import { ago, bytes, quota } from '../format';
import { isAdmin } from '../session';
import type { Project } from '../types';

function kindText(project: Project) {
  return project.kind === 'hosted' ? 'hosted' : `${project.kind} of ${project.upstream ?? '?'}`;
}

export function ProjectsPage() {
  const [projects, { refetch }] = createResource(() => get<Project[]>('projects'));
  const [doomed, setDoomed] = createSignal<Project | null>(null);
  const [error, setError] = createSignal<unknown>(null);

  const remove = async () => {
    const project = doomed();
    setDoomed(null);
    if (!project) {
      return;
    }
    try {
      await del(`projects/${seg(project.name)}?with_images=true`);
      setError(null);
      refetch();
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section>
      <h1>Projects</h1>
      <CreateProject onCreated={refetch} />
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
      <Loaded data={projects}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">No projects yet.</p>}>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Access</th>
                    <th scope="col">Kind</th>
                    <th scope="col" class="num">Repositories</th>
                    <th scope="col">Storage</th>
                    <th scope="col">Last push</th>
                    <Show when={isAdmin()}>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </Show>
                  </tr>
                </thead>
                <tbody>
                  <For each={list()}>
                    {(project) => (
                      <tr>
                        <th scope="row">
                          <A href={`/projects/${seg(project.name)}`}>{project.name}</A>
                        </th>
                        <td>
                          <span class={project.public ? 'pill public' : 'pill'}>{project.public ? 'public' : 'private'}</span>
                        </td>
                        <td>{kindText(project)}</td>
                        <td class="num">{project.repositories}</td>
                        <td>
                          <Usage used={project.bytes} limit={project.quota_bytes} text={quota(project.bytes, project.quota_bytes)} />
                        </td>
                        <td title={project.last_push ? new Date(project.last_push).toISOString() : ''}>{ago(project.last_push)}</td>
                        <Show when={isAdmin()}>
                          <td>
                            <button type="button" class="danger small" aria-label={`Delete project ${project.name}`} onClick={() => setDoomed(project)}>
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
        )}
      </Loaded>
      <Confirm
        open={doomed() !== null}
        title={`Delete project ${doomed()?.name ?? ''}?`}
        confirmLabel="Delete project"
        danger
        onConfirm={remove}
        onCancel={() => setDoomed(null)}
      >
        <p>
          This deletes the project <strong>{doomed()?.name}</strong> with its{' '}
          <strong>{doomed()?.repositories} repositories</strong> and all their tags (
          {bytes(doomed()?.bytes)}), its members and its settings. Robots lose their access to it.
          The next garbage collection frees the storage. It cannot be undone.
        </p>
      </Confirm>
    </section>
  );
}

function CreateProject(props: { onCreated: () => void }) {
  const [error, setError] = createSignal<unknown>(null);
  let name!: HTMLInputElement;
  let isPublic!: HTMLInputElement;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    try {
      await post('projects', { name: name.value.trim(), public: isPublic.checked });
      name.value = '';
      isPublic.checked = false;
      setError(null);
      props.onCreated();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <details class="create">
      <summary>New project</summary>
      <form class="inline" onSubmit={submit}>
        <label>
          Project name
          <input ref={name} required pattern="[a-z0-9]+([._-][a-z0-9]+)*" />
        </label>
        <label class="check">
          <input type="checkbox" ref={isPublic} /> Public (anyone may pull)
        </label>
        <button type="submit" class="primary">
          Create project
        </button>
      </form>
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
    </details>
  );
}

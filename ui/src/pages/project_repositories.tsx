// A project's repositories: filtered, sorted and paged by the server (a project may hold
// 10,000 of them), so a page view is one request whatever the size.
import { A, useSearchParams } from '@solidjs/router';
import { createResource, For, Show } from 'solid-js';
import { get, query, repoPath, seg } from '../api';
import { Loaded, Pager, SortHeader } from '../components';
import { ago, bytes } from '../format';
import type { Page, Project, RepositoryRow } from '../types';

const limit = 50;

export function ProjectRepositories(props: { project: Project }) {
  const [search, setSearch] = useSearchParams();
  const state = () => ({
    q: (search.q as string) ?? '',
    sort: (search.sort as string) ?? 'name',
    order: (search.order as string) ?? 'asc',
    offset: Number(search.offset ?? 0),
  });
  const [page] = createResource(state, (s) =>
    get<Page<RepositoryRow>>(
      `projects/${seg(props.project.name)}/repositories${query({ q: s.q, sort: s.sort, order: s.order, limit, offset: s.offset })}`,
    ),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const filter = (value: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => setSearch({ q: value || undefined, offset: undefined }, { replace: true }), 250);
  };
  const sortBy = (sort: string, order: string) => setSearch({ sort, order, offset: undefined });
  return (
    <>
      <div class="toolbar">
        <label>
          Filter repositories
          <input type="search" value={state().q} onInput={(event) => filter(event.currentTarget.value)} placeholder="name contains…" />
        </label>
      </div>
      <Loaded data={page}>
        {(p) => (
          <Show when={p().items.length > 0} fallback={<p class="muted">No repositories{state().q ? ' match' : ' yet'}.</p>}>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <SortHeader label="Name" field="name" {...state()} onSort={sortBy} />
                    <SortHeader label="Tags" field="tags" {...state()} onSort={sortBy} numeric />
                    <SortHeader label="Size" field="size" {...state()} onSort={sortBy} numeric />
                    <SortHeader label="Last push" field="last_push" {...state()} onSort={sortBy} numeric />
                    <SortHeader label="Last pull" field="last_pull" {...state()} onSort={sortBy} numeric />
                    <th scope="col" class="num">
                      Pulls
                    </th>
                  </tr>
                </thead>
                <tbody>
                  <For each={p().items}>
                    {(repo) => (
                      <tr>
                        <th scope="row">
                          <A href={`/repositories/${repoPath(repo.name)}`}>{repo.name}</A>
                        </th>
                        <td class="num">{repo.tags}</td>
                        <td class="num">{bytes(repo.bytes)}</td>
                        <td>{ago(repo.last_push)}</td>
                        <td>{ago(repo.last_pull)}</td>
                        <td class="num">{repo.pulls}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
            <Pager total={p().total} offset={state().offset} limit={limit} onOffset={(offset) => setSearch({ offset: offset || undefined })} />
          </Show>
        )}
      </Loaded>
    </>
  );
}

// A repository: its tags, paged and sorted by the server, multi-select delete, pull commands.
// /repositories/NAME is the repository, /repositories/NAME/-/REFERENCE one of its images.
import { A, useParams, useSearchParams } from '@solidjs/router';
import { createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { get, post, query, repoPath, seg } from '../api';
import { Confirm, CopyButton, ErrorNote, Loaded, Pager, SortHeader } from '../components';
import { ago, bytes, shortDigest } from '../format';
import { PullCommands } from '../pull';
import type { DeleteResult, Page, Repository, TagRow } from '../types';
import { ImagePage } from './image';

export function RepositoryRoute() {
  const params = useParams();
  const parts = createMemo(() => {
    const [name, reference] = (params.path ?? '').split('/-/');
    return { name: name.replace(/\/$/, ''), reference };
  });
  return (
    <Show when={parts().reference} keyed fallback={<Show when={parts().name} keyed>{(name) => <RepositoryPage name={name} />}</Show>}>
      {(reference) => <ImagePage name={parts().name} reference={decodeURIComponent(reference)} />}
    </Show>
  );
}

export function Crumbs(props: { name: string; project?: string; last?: string }) {
  const project = () => props.project ?? props.name.split('/')[0];
  return (
    <nav class="crumbs" aria-label="Breadcrumb">
      <A href="/" end>
        Projects
      </A>{' '}
      / <A href={`/projects/${seg(project())}`}>{project()}</A> /{' '}
      {props.last ? <A href={`/repositories/${repoPath(props.name)}`}>{props.name}</A> : <span aria-current="page">{props.name}</span>}
      {props.last ? (
        <>
          {' '}
          / <span aria-current="page">{props.last}</span>
        </>
      ) : null}
    </nav>
  );
}

const limit = 50;

function RepositoryPage(props: { name: string }) {
  const [search, setSearch] = useSearchParams();
  const state = () => ({
    q: (search.q as string) ?? '',
    sort: (search.sort as string) ?? 'pushed',
    order: (search.order as string) ?? 'desc',
    offset: Number(search.offset ?? 0),
  });
  const path = () => `repositories/${repoPath(props.name)}`;
  const [repo, repoActions] = createResource(() => get<Repository>(path()));
  const [tags, tagActions] = createResource(state, (s) =>
    get<Page<TagRow>>(`${path()}/-/tags${query({ q: s.q, sort: s.sort, order: s.order, limit, offset: s.offset })}`),
  );
  const [selected, setSelected] = createSignal<Set<string>>(new Set());
  const [confirming, setConfirming] = createSignal(false);
  const [manifestsToo, setManifestsToo] = createSignal(false);
  const [result, setResult] = createSignal<DeleteResult | null>(null);
  const [error, setError] = createSignal<unknown>(null);
  const canDelete = () => repo.state === 'ready' && repo().can.delete;
  const rows = () => (tags.state === 'ready' || tags.state === 'refreshing' ? tags.latest!.items : []);
  const chosen = () => rows().filter((row) => selected().has(row.tag));
  const digests = () => [...new Set(chosen().map((row) => row.digest))];

  const toggle = (tag: string, on: boolean) => {
    const next = new Set(selected());
    on ? next.add(tag) : next.delete(tag);
    setSelected(next);
  };
  const sortBy = (sort: string, order: string) => setSearch({ sort, order, offset: undefined });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const filter = (value: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => setSearch({ q: value || undefined, offset: undefined }, { replace: true }), 250);
  };

  const remove = async () => {
    setConfirming(false);
    const body = manifestsToo() ? { tags: [], manifests: digests() } : { tags: chosen().map((row) => row.tag), manifests: [] };
    try {
      setResult(await post<DeleteResult>(`${path()}/-/delete`, body));
      setError(null);
    } catch (caught) {
      setError(caught);
    }
    setSelected(new Set<string>());
    tagActions.refetch();
    repoActions.refetch();
  };

  const pullReference = () => {
    const list = rows();
    const latest = list.find((row) => row.tag === 'latest');
    return `:${latest?.tag ?? list[0]?.tag ?? 'latest'}`;
  };

  return (
    <section>
      <Crumbs name={props.name} project={repo.state === 'ready' ? repo().project : undefined} />
      <h1>{props.name}</h1>
      <Loaded data={repo}>
        {(r) => (
          <p class="muted">
            {r().tags} tags, {r().manifests} manifests, {bytes(r().bytes)}; last push {ago(r().last_push)}, last pull {ago(r().last_pull)},{' '}
            {r().pulls} pulls
          </p>
        )}
      </Loaded>
      <PullCommands repository={props.name} reference={pullReference()} />
      <h2>Tags</h2>
      <div class="toolbar">
        <label>
          Filter tags
          <input type="search" value={state().q} onInput={(event) => filter(event.currentTarget.value)} placeholder="tag contains…" />
        </label>
        <Show when={canDelete()}>
          <button type="button" class="danger" disabled={chosen().length === 0} onClick={() => setConfirming(true)}>
            Delete selected ({chosen().length})
          </button>
        </Show>
      </div>
      <Show when={error()}>
        <ErrorNote error={error()} />
      </Show>
      <Show when={result()}>
        {(r) => (
          <div role="status" class="result">
            <p>
              Deleted {r().deleted_tags.length} tags and {r().deleted_manifests.length} manifests.
            </p>
            <For each={r().failed}>
              {(f) => (
                <p class="error">
                  {f.reference}: {f.message} ({f.code})
                </p>
              )}
            </For>
          </div>
        )}
      </Show>
      <Loaded data={tags}>
        {(page) => (
          <Show when={page().items.length > 0} fallback={<p class="muted">No tags{state().q ? ' match' : ''}.</p>}>
            <div class="scroll">
              <table class="tags">
                <thead>
                  <tr>
                    <Show when={canDelete()}>
                      <th scope="col">
                        <input
                          type="checkbox"
                          aria-label="Select every tag on this page"
                          checked={chosen().length === page().items.length}
                          onChange={(event) => setSelected(new Set(event.currentTarget.checked ? page().items.map((row) => row.tag) : []))}
                        />
                      </th>
                    </Show>
                    <SortHeader label="Tag" field="name" {...state()} onSort={sortBy} />
                    <th scope="col">Digest</th>
                    <SortHeader label="Size" field="size" {...state()} onSort={sortBy} numeric />
                    <th scope="col">Platforms</th>
                    <SortHeader label="Pushed" field="pushed" {...state()} onSort={sortBy} numeric />
                    <SortHeader label="Last pulled" field="pulled" {...state()} onSort={sortBy} numeric />
                    <SortHeader label="Pulls" field="pulls" {...state()} onSort={sortBy} numeric />
                  </tr>
                </thead>
                <tbody>
                  <For each={page().items}>
                    {(row) => (
                      <tr>
                        <Show when={canDelete()}>
                          <td>
                            <input
                              type="checkbox"
                              aria-label={`Select tag ${row.tag}`}
                              checked={selected().has(row.tag)}
                              onChange={(event) => toggle(row.tag, event.currentTarget.checked)}
                            />
                          </td>
                        </Show>
                        <th scope="row">
                          <A href={`/repositories/${repoPath(props.name)}/-/${seg(row.tag)}`}>{row.tag}</A>
                          <Show when={row.artifact_type}>
                            <div class="muted small">{row.artifact_type}</div>
                          </Show>
                        </th>
                        <td class="digest">
                          <code title={row.digest}>{shortDigest(row.digest)}</code>
                          <CopyButton text={row.digest} label={`Copy the digest of ${row.tag}`} />
                        </td>
                        <td class="num">{bytes(row.size)}</td>
                        <td>{row.platforms.join(', ') || '—'}</td>
                        <td>{ago(row.pushed)}</td>
                        <td>{ago(row.last_pulled)}</td>
                        <td class="num">{row.pulls}</td>
                      </tr>
                    )}
                  </For>
                </tbody>
              </table>
            </div>
            <Pager total={page().total} offset={state().offset} limit={limit} onOffset={(offset) => setSearch({ offset: offset || undefined })} />
          </Show>
        )}
      </Loaded>
      <Confirm
        open={confirming()}
        title={manifestsToo() ? `Delete ${digests().length} manifests?` : `Delete ${chosen().length} tags?`}
        confirmLabel="Delete"
        danger
        onConfirm={remove}
        onCancel={() => setConfirming(false)}
      >
        <fieldset>
          <legend>What to delete</legend>
          <label class="check">
            <input type="radio" name="what" checked={!manifestsToo()} onChange={() => setManifestsToo(false)} /> The tags only (the images stay
            under their digests and other tags)
          </label>
          <label class="check">
            <input type="radio" name="what" checked={manifestsToo()} onChange={() => setManifestsToo(true)} /> The manifests (every tag
            pointing at them goes too)
          </label>
        </fieldset>
        <ul class="doomed">
          <Show
            when={manifestsToo()}
            fallback={<For each={chosen()}>{(row) => <li>{`${props.name}:${row.tag}`}</li>}</For>}
          >
            <For each={digests()}>
              {(digest) => (
                <li>
                  {props.name}@{digest} ({chosen().filter((row) => row.digest === digest).map((row) => row.tag).join(', ')})
                </li>
              )}
            </For>
          </Show>
        </ul>
      </Confirm>
    </section>
  );
}

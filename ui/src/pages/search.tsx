// Search across the repositories and tags the caller may pull.
import { A, useSearchParams } from '@solidjs/router';
import { createResource, For, Show } from 'solid-js';
import { get, query, repoPath, seg } from '../api';
import { Loaded } from '../components';
import { shortDigest } from '../format';
import type { SearchResult } from '../types';

export function SearchPage() {
  const [search, setSearch] = useSearchParams();
  const q = () => ((search.q as string) ?? '').trim();
  const [results] = createResource(
    () => q() || false,
    (text) => get<SearchResult>(`search${query({ q: text, limit: 20 })}`),
  );
  let input!: HTMLInputElement;
  return (
    <section>
      <h1>Search</h1>
      <form
        class="inline"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch({ q: input.value.trim() || undefined });
        }}
      >
        <label>
          Repository or tag
          <input ref={input} type="search" value={q()} autofocus />
        </label>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <Show when={q()}>
        <Loaded data={results}>
          {(r) => (
            <>
              <h2>Repositories</h2>
              <Show when={r().repositories.length > 0} fallback={<p class="muted">No repository matches.</p>}>
                <ul class="results">
                  <For each={r().repositories}>
                    {(repo) => (
                      <li>
                        <A href={`/repositories/${repoPath(repo.name)}`}>{repo.name}</A> <span class="muted">in {repo.project}</span>
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
              <h2>Tags</h2>
              <Show when={r().tags.length > 0} fallback={<p class="muted">No tag matches.</p>}>
                <ul class="results">
                  <For each={r().tags}>
                    {(tag) => (
                      <li>
                        <A href={`/repositories/${repoPath(tag.repository)}/-/${seg(tag.tag)}`}>
                          {tag.repository}:{tag.tag}
                        </A>{' '}
                        <code class="muted">{shortDigest(tag.digest)}</code>
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
            </>
          )}
        </Loaded>
      </Show>
    </section>
  );
}

// One image (or index, or artifact) in a repository: its platforms, layers with their history,
// its config and its referrers. One request: the server assembles all of it.
import { A } from '@solidjs/router';
import { createResource, For, type JSX, Show } from 'solid-js';
import { get, repoPath, seg } from '../api';
import { CopyButton, Loaded } from '../components';
import { bytes, shortDigest, when } from '../format';
import { PullCommands } from '../pull';
import type { Descriptor, History, Manifest, Referrer } from '../types';
import { Crumbs } from './repository';

export function ImagePage(props: { name: string; reference: string }) {
  const [manifest] = createResource(
    () => [props.name, props.reference] as const,
    ([name, reference]) => get<Manifest>(`repositories/${repoPath(name)}/-/manifests/${seg(reference)}`),
  );
  const link = (digest: string) => `/repositories/${repoPath(props.name)}/-/${seg(digest)}`;
  return (
    <section>
      <Crumbs name={props.name} last={props.reference.startsWith('sha256:') ? shortDigest(props.reference) : props.reference} />
      <Loaded data={manifest}>
        {(m) => (
          <>
            <h1>
              {props.name}
              {props.reference.startsWith('sha256:') ? '@' + shortDigest(props.reference) : ':' + props.reference}{' '}
              <span class="pill">{m().kind}</span>
            </h1>
            <dl class="facts">
              <dt>Digest</dt>
              <dd class="digest">
                <code>{m().digest}</code>
                <CopyButton text={m().digest} label="Copy the digest" />
              </dd>
              <dt>Media type</dt>
              <dd>{m().media_type}</dd>
              <Show when={m().artifact_type}>
                <dt>Artifact type</dt>
                <dd>{m().artifact_type}</dd>
              </Show>
              <dt>Size</dt>
              <dd>
                {bytes(m().total_size)} in all ({bytes(m().size)} manifest)
              </dd>
              <dt>Pushed</dt>
              <dd>{when(m().pushed)}</dd>
              <dt>Tags</dt>
              <dd>{m().tags.join(', ') || 'none'}</dd>
              <Show when={m().subject}>
                {(subject) => (
                  <>
                    <dt>Refers to</dt>
                    <dd>
                      <A href={link(subject())}>{subject()}</A>
                    </dd>
                  </>
                )}
              </Show>
            </dl>
            <Annotations title="Annotations" values={m().annotations} />
            <PullCommands repository={props.name} reference={`@${m().digest}`} />
            <Show when={m().platforms && m().platforms!.length > 0}>
              <Platforms manifest={m()} link={link} />
            </Show>
            <Show when={m().config}>{(config) => <Config config={config()} />}</Show>
            <Show when={m().layers}>
              {(layers) => <Layers layers={layers()} history={m().config?.history ?? []} />}
            </Show>
            <Referrers referrers={m().referrers} link={link} />
          </>
        )}
      </Loaded>
    </section>
  );
}

function Platforms(props: { manifest: Manifest; link: (digest: string) => string }) {
  return (
    <>
      <h2>Platforms</h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Platform</th>
              <th scope="col">Manifest</th>
              <th scope="col" class="num">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            <For each={props.manifest.platforms}>
              {(p) => (
                <tr>
                  <th scope="row">{[p.os, p.architecture, p.variant].filter(Boolean).join('/')}</th>
                  <td>
                    <A href={props.link(p.digest)}>
                      <code>{shortDigest(p.digest)}</code>
                    </A>
                  </td>
                  <td class="num">{bytes(p.size)}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </>
  );
}

function Config(props: { config: NonNullable<Manifest['config']> }) {
  const c = () => props.config;
  const args = (list: string[] | null) => (list && list.length > 0 ? <code>{JSON.stringify(list)}</code> : '—');
  return (
    <>
      <h2>Config</h2>
      <dl class="facts">
        <dt>Created</dt>
        <dd>{c().created ?? '—'}</dd>
        <dt>Platform</dt>
        <dd>
          {c().os}/{c().architecture}
        </dd>
        <dt>Entrypoint</dt>
        <dd>{args(c().entrypoint)}</dd>
        <dt>Command</dt>
        <dd>{args(c().cmd)}</dd>
        <Show when={c().working_dir}>
          <dt>Working directory</dt>
          <dd>
            <code>{c().working_dir}</code>
          </dd>
        </Show>
        <Show when={c().user}>
          <dt>User</dt>
          <dd>
            <code>{c().user}</code>
          </dd>
        </Show>
        <dt>Environment</dt>
        <dd>
          <Show when={c().env.length > 0} fallback="—">
            <ul class="plain">
              <For each={c().env}>
                {(e) => (
                  <li>
                    <code>{e}</code>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </dd>
      </dl>
      <Annotations title="Labels" values={c().labels} />
    </>
  );
}

// History entries that made a layer pair with the layers in order; the others (ENV, CMD...)
// made none.
function Layers(props: { layers: Descriptor[]; history: History[] }) {
  const rows = () => {
    const out: { history?: History; layer?: Descriptor; index?: number }[] = [];
    let next = 0;
    for (const h of props.history) {
      if (h.empty_layer) {
        out.push({ history: h });
      } else {
        out.push({ history: h, layer: props.layers[next], index: next });
        next++;
      }
    }
    for (; next < props.layers.length; next++) {
      out.push({ layer: props.layers[next], index: next });
    }
    return out;
  };
  return (
    <>
      <h2>Layers and history</h2>
      <p class="muted">
        {props.layers.length} layers, {bytes(props.layers.reduce((sum, l) => sum + l.size, 0))} compressed
      </p>
      <div class="scroll">
        <table class="layers">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Created by</th>
              <th scope="col">Layer</th>
              <th scope="col" class="num">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            <For each={rows()}>
              {(row) => (
                <tr classList={{ empty: !row.layer }}>
                  <td>{row.index !== undefined ? row.index + 1 : ''}</td>
                  <td class="created-by">
                    <code>{row.history?.created_by || (row.history ? '—' : '(no history)')}</code>
                    <Show when={row.history?.comment}>
                      <div class="muted small">{row.history!.comment}</div>
                    </Show>
                  </td>
                  <td>
                    <Show when={row.layer} fallback={<span class="muted">no layer</span>}>
                      {(layer) => (
                        <span class="digest">
                          <code title={`${layer().digest} ${layer().media_type}`}>{shortDigest(layer().digest)}</code>
                          <CopyButton text={layer().digest} label={`Copy the digest of layer ${row.index! + 1}`} />
                        </span>
                      )}
                    </Show>
                  </td>
                  <td class="num">{row.layer ? bytes(row.layer.size) : ''}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
    </>
  );
}

function Referrers(props: { referrers: Referrer[]; link: (digest: string) => string }) {
  const groups = () => {
    const byType = new Map<string, Referrer[]>();
    for (const r of props.referrers) {
      const type = r.artifact_type ?? r.media_type;
      byType.set(type, [...(byType.get(type) ?? []), r]);
    }
    return [...byType.entries()];
  };
  return (
    <>
      <h2>Referrers</h2>
      <Show when={props.referrers.length > 0} fallback={<p class="muted">No signatures, SBOMs or attestations refer to this manifest.</p>}>
        <For each={groups()}>
          {([type, list]) => (
            <>
              <h3>{type}</h3>
              <ul class="referrers">
                <For each={list}>
                  {(r) => (
                    <li>
                      <A href={props.link(r.digest)}>
                        <code>{shortDigest(r.digest)}</code>
                      </A>{' '}
                      {bytes(r.size)}
                      <Show when={r.annotations && Object.keys(r.annotations).length > 0}>
                        <span class="muted small">
                          {' '}
                          {Object.entries(r.annotations!)
                            .map(([k, v]) => `${k}=${v}`)
                            .join(', ')}
                        </span>
                      </Show>
                    </li>
                  )}
                </For>
              </ul>
            </>
          )}
        </For>
      </Show>
    </>
  );
}

function Annotations(props: { title: string; values: Record<string, string> | null }): JSX.Element {
  return (
    <Show when={props.values && Object.keys(props.values).length > 0}>
      <h2>{props.title}</h2>
      <dl class="facts kv">
        <For each={Object.entries(props.values!)}>
          {([key, value]) => (
            <>
              <dt>
                <code>{key}</code>
              </dt>
              <dd>{value}</dd>
            </>
          )}
        </For>
      </dl>
    </Show>
  );
}

// A project's settings: usage against the quota, the quota and immutable tag patterns (set by
// administrators), and the retention policy, edited with a live preview of what it would
// delete and free, then saved and run.
import { createEffect, createResource, createSignal, For, on, Show } from 'solid-js';
import { get, post, put, seg } from '../api';
import { ActionOutcome, ErrorNote, Loaded, Usage as UsageMeter } from '../components';
import { bytes, quota, when } from '../format';
import { isAdmin } from '../session';
import type { Project, RetentionPlan, RetentionPolicy, Settings, Usage } from '../types';

const lines = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

const defaultPolicy: RetentionPolicy = {
  enabled: false,
  schedule: '1d',
  include: ['*'],
  exclude: [],
  match: 'any',
  rules: { keep_last: 10 },
};

export function ProjectSettings(props: { project: Project; onChanged: () => void }) {
  const base = () => `projects/${seg(props.project.name)}`;
  const [settings, { refetch }] = createResource(() => get<Settings>(`${base()}/settings`));
  const [usage] = createResource(() => get<Usage>(`${base()}/usage`));
  const manage = () => isAdmin() || props.project.can?.manage === true;
  return (
    <>
      <h2>Usage</h2>
      <Loaded data={usage}>
        {(u) => (
          <dl class="facts">
            <dt>Storage</dt>
            <dd>
              <UsageMeter used={u().bytes} limit={u().quota.bytes} text={quota(u().bytes, u().quota.bytes)} />
            </dd>
            <dt>Repositories</dt>
            <dd>
              {u().repositories}
              {u().quota.repositories !== null ? ` of ${u().quota.repositories}` : ''}
            </dd>
          </dl>
        )}
      </Loaded>
      <Loaded data={settings}>
        {(s) => (
          <>
            <Rules project={props.project} settings={s()} onSaved={() => (refetch(), props.onChanged())} />
            <RetentionEditor project={props.project} settings={s()} editable={manage()} onSaved={refetch} />
          </>
        )}
      </Loaded>
    </>
  );
}

// Quota and immutable tags: an administrator's rules; owners see them.
function Rules(props: { project: Project; settings: Settings; onSaved: () => void }) {
  const [error, setError] = createSignal<unknown>(null);
  const [saved, setSaved] = createSignal(false);
  let quotaGb!: HTMLInputElement;
  let quotaRepos!: HTMLInputElement;
  let immutable!: HTMLTextAreaElement;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const body = {
      quota: {
        bytes: quotaGb.value === '' ? null : Math.round(Number(quotaGb.value) * 1e9),
        repositories: quotaRepos.value === '' ? null : Number(quotaRepos.value),
      },
      immutable_tags: lines(immutable.value),
      retention: props.settings.retention,
    };
    try {
      await put(`projects/${seg(props.project.name)}/settings`, body);
      setError(null);
      setSaved(true);
      props.onSaved();
    } catch (caught) {
      setError(caught);
    }
  };
  const q = () => props.settings.quota;
  return (
    <>
      <h2>Quota and immutable tags</h2>
      <Show
        when={isAdmin()}
        fallback={
          <dl class="facts">
            <dt>Quota</dt>
            <dd>
              {q().bytes === null ? 'no limit' : bytes(q().bytes)}, {q().repositories === null ? 'any number of' : `at most ${q().repositories}`}{' '}
              repositories
            </dd>
            <dt>Immutable tags</dt>
            <dd>{props.settings.immutable_tags.join(', ') || 'none'}</dd>
          </dl>
        }
      >
        <form class="stack" onSubmit={submit}>
          <label>
            Storage quota in GB (empty: no limit)
            <input ref={quotaGb} type="number" min="0" step="any" value={q().bytes === null ? '' : q().bytes! / 1e9} />
          </label>
          <label>
            Repository quota (empty: no limit)
            <input ref={quotaRepos} type="number" min="0" value={q().repositories ?? ''} />
          </label>
          <label>
            Immutable tag patterns, one per line
            <textarea ref={immutable} rows="3">
              {props.settings.immutable_tags.join('\n')}
            </textarea>
          </label>
          <div>
            <button type="submit" class="primary">
              Save quota and immutable tags
            </button>
            <Show when={saved()}>
              <span role="status" class="ok-text">
                {' '}
                Saved.
              </span>
            </Show>
          </div>
          <Show when={error()}>
            <ErrorNote error={error()} />
          </Show>
        </form>
      </Show>
    </>
  );
}

function RetentionEditor(props: { project: Project; settings: Settings; editable: boolean; onSaved: () => void }) {
  const start = props.settings.retention ?? defaultPolicy;
  const [policy, setPolicy] = createSignal<RetentionPolicy>(structuredClone(start));
  const [error, setError] = createSignal<unknown>(null);
  const [message, setMessage] = createSignal('');
  const base = `projects/${seg(props.project.name)}`;
  const update = (change: (p: RetentionPolicy) => void) => {
    const next = structuredClone(policy());
    change(next);
    setPolicy(next);
  };
  const rule = (key: 'keep_last' | 'max_age_days' | 'not_pulled_days', value: string) =>
    update((p) => {
      if (value === '') {
        delete p.rules[key];
      } else {
        p.rules[key] = Number(value);
      }
    });

  // The preview follows the editor: one request a moment after the last change.
  const [previewed, setPreviewed] = createSignal<RetentionPolicy>(policy());
  let timer: ReturnType<typeof setTimeout> | undefined;
  createEffect(
    on(policy, (p) => {
      clearTimeout(timer);
      timer = setTimeout(() => setPreviewed(p), 300);
    }, { defer: true }),
  );
  const [plan] = createResource(previewed, (p) => post<RetentionPlan>(`${base}/retention/preview`, p));

  // An administrator's PUT sets every field (quota and immutable tags included), an owner's
  // only the retention: the server keeps the administrator's rules it leaves out.
  const body = () =>
    isAdmin()
      ? { quota: props.settings.quota, immutable_tags: props.settings.immutable_tags, retention: policy() }
      : { retention: policy() };
  const save = async () => {
    try {
      await put(`${base}/settings`, body());
      setError(null);
      setMessage('Retention policy saved.');
      props.onSaved();
    } catch (caught) {
      setError(caught);
    }
  };
  const run = async () => {
    try {
      await put(`${base}/settings`, body());
      const outcome = await post<{ deleted_tags: number; deleted_manifests: number; freed_bytes: number }>(`${base}/retention/run`);
      setError(null);
      setMessage(
        `Retention ran: deleted ${outcome.deleted_tags} tags and ${outcome.deleted_manifests} manifests, freeing ${bytes(outcome.freed_bytes)}.`,
      );
      props.onSaved();
      setPreviewed(structuredClone(policy()));
    } catch (caught) {
      setError(caught);
    }
  };
  const p = policy;
  return (
    <>
      <h2>Retention policy</h2>
      <div class="retention">
        <div>
          <fieldset class="stack" disabled={!props.editable}>
            <legend class="sr-only">Retention policy</legend>
            <label class="check">
              <input type="checkbox" checked={p().enabled} onChange={(e) => update((x) => (x.enabled = e.currentTarget.checked))} /> Run on a
              schedule
            </label>
            <label>
              Schedule (e.g. 1d, 12h, 30m)
              <input value={p().schedule} onChange={(e) => update((x) => (x.schedule = e.currentTarget.value.trim()))} />
            </label>
            <label>
              Include tag patterns (comma separated)
              <input value={p().include.join(', ')} onChange={(e) => update((x) => (x.include = lines(e.currentTarget.value)))} />
            </label>
            <label>
              Exclude tag patterns (comma separated)
              <input value={p().exclude.join(', ')} onChange={(e) => update((x) => (x.exclude = lines(e.currentTarget.value)))} />
            </label>
            <label>
              Keep the last N tags per repository
              <input type="number" min="0" value={p().rules.keep_last ?? ''} onInput={(e) => rule('keep_last', e.currentTarget.value)} />
            </label>
            <label>
              Delete tags pushed more than N days ago
              <input type="number" min="1" value={p().rules.max_age_days ?? ''} onInput={(e) => rule('max_age_days', e.currentTarget.value)} />
            </label>
            <label>
              Delete tags not pulled for N days
              <input type="number" min="1" value={p().rules.not_pulled_days ?? ''} onInput={(e) => rule('not_pulled_days', e.currentTarget.value)} />
            </label>
            <div class="field">
              <label for="retention-match">A tag goes when</label>
              <select id="retention-match" value={p().match} onChange={(e) => update((x) => (x.match = e.currentTarget.value as 'any' | 'all'))}>
                <option value="any">any rule says so</option>
                <option value="all">all rules say so</option>
              </select>
            </div>
          </fieldset>
          <Show when={props.editable}>
            <div class="actions left">
              <button type="button" class="primary" onClick={save}>
                Save retention policy
              </button>
              <button type="button" class="danger" onClick={run}>
                Save and run now
              </button>
            </div>
          </Show>
          <ActionOutcome message={message()} error={error()} />
        </div>
        <div>
          <h3>Preview</h3>
          <Loaded data={plan}>
            {(pl) => (
              <div class="preview" aria-live="polite">
                <p>
                  <strong>{pl().tags.length}</strong> tags and <strong>{pl().manifests.length}</strong> manifests would go, freeing{' '}
                  <strong>{bytes(pl().freed_bytes)}</strong>.
                </p>
                <Show when={pl().tags.length > 0}>
                  <div class="scroll">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">Tag</th>
                          <th scope="col">Pushed</th>
                          <th scope="col">Last pulled</th>
                          <th scope="col">Because of</th>
                        </tr>
                      </thead>
                      <tbody>
                        <For each={pl().tags.slice(0, 200)}>
                          {(t) => (
                            <tr>
                              <th scope="row">
                                {t.repository}:{t.tag}
                              </th>
                              <td>{when(t.pushed)}</td>
                              <td>{t.last_pulled ? when(t.last_pulled) : 'never'}</td>
                              <td>{t.reasons.join(', ')}</td>
                            </tr>
                          )}
                        </For>
                      </tbody>
                    </table>
                  </div>
                </Show>
              </div>
            )}
          </Loaded>
        </div>
      </div>
    </>
  );
}

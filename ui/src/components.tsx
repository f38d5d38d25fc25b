// Small pieces every page uses: loading and error states, copy buttons, confirmations, tabs.
import { A } from '@solidjs/router';
import { createEffect, createSignal, For, type JSX, Match, type Resource, Show, Switch } from 'solid-js';
import { ApiError } from './api';

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorNote(props: { error: unknown }) {
  return (
    <p class="error" role="alert">
      {errorText(props.error)}
    </p>
  );
}

// What an action said: its success message (announced politely) or its error (an alert).
export function ActionOutcome(props: { message: string | null | undefined; error: unknown }) {
  return (
    <>
      <Show when={props.message}>
        <p role="status" class="ok-text">
          {props.message}
        </p>
      </Show>
      <Show when={props.error}>
        <ErrorNote error={props.error} />
      </Show>
    </>
  );
}

// A resource's value once loaded; its error or a loading note until then. The children get an
// accessor, so a refetch updates the page in place instead of rebuilding it.
export function Loaded<T>(props: { data: Resource<T>; children: (value: () => T) => JSX.Element }) {
  return (
    <Switch>
      <Match when={props.data.error}>
        <ErrorNote error={props.data.error} />
      </Match>
      <Match when={props.data.state === 'ready' || props.data.state === 'refreshing'}>
        {props.children(() => props.data.latest as T)}
      </Match>
      <Match when={true}>
        <p class="muted" role="status">
          Loading…
        </p>
      </Match>
    </Switch>
  );
}

async function writeClipboard(text: string) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain HTTP on a non-local address has no clipboard API: the old way still works.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function CopyButton(props: { text: string; label: string }) {
  const [copied, setCopied] = createSignal(false);
  const copy = async () => {
    await writeClipboard(props.text);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" class="copy" aria-label={props.label} title={props.label} onClick={copy}>
      {copied() ? 'Copied' : 'Copy'}
    </button>
  );
}

// A modal confirmation on the native <dialog>: it traps focus and closes on Escape.
export function Confirm(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: JSX.Element;
}) {
  let dialog!: HTMLDialogElement;
  const sync = () => {
    if (props.open && !dialog.open) {
      dialog.showModal();
    } else if (!props.open && dialog.open) {
      dialog.close();
    }
  };
  createEffect(sync);
  return (
    <dialog
      ref={dialog}
      aria-labelledby="confirm-title"
      onClose={() => props.open && props.onCancel()}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div class="dialog-body">{props.children}</div>
      <div class="actions">
        <button type="button" onClick={() => props.onCancel()}>
          Cancel
        </button>
        <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={() => props.onConfirm()}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export function Tabs(props: { label: string; tabs: { id: string; label: string; href: string }[]; current: string }) {
  return (
    <nav class="tabs" aria-label={props.label}>
      <For each={props.tabs}>
        {(tab) => (
          <A href={tab.href} aria-current={tab.id === props.current ? 'page' : undefined} class={tab.id === props.current ? 'current' : ''}>
            {tab.label}
          </A>
        )}
      </For>
    </nav>
  );
}

// A column header that sorts: the current sort is announced with aria-sort.
export function SortHeader(props: {
  label: string;
  field: string;
  sort: string;
  order: string;
  onSort: (field: string, order: string) => void;
  numeric?: boolean;
}) {
  const active = () => props.sort === props.field;
  const next = () => (active() && props.order === 'asc' ? 'desc' : active() ? 'asc' : props.numeric ? 'desc' : 'asc');
  return (
    <th scope="col" aria-sort={active() ? (props.order === 'asc' ? 'ascending' : 'descending') : undefined}>
      <button type="button" class="sort" onClick={() => props.onSort(props.field, next())}>
        {props.label}
        <span aria-hidden="true">{active() ? (props.order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

export function Pager(props: { total: number; offset: number; limit: number; onOffset: (offset: number) => void }) {
  return (
    <Show when={props.total > props.limit}>
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={props.offset === 0} onClick={() => props.onOffset(Math.max(0, props.offset - props.limit))}>
          Previous
        </button>
        <span>
          {props.offset + 1}–{Math.min(props.total, props.offset + props.limit)} of {props.total}
        </span>
        <button
          type="button"
          disabled={props.offset + props.limit >= props.total}
          onClick={() => props.onOffset(props.offset + props.limit)}
        >
          Next
        </button>
      </nav>
    </Show>
  );
}

// A meter of storage against a quota; the text says the same for screen readers.
export function Usage(props: { used: number; limit: number | null; text: string }) {
  return (
    <span class="usage">
      <span>{props.text}</span>
      <Show when={props.limit}>
        {(limit) => <meter min={0} max={limit()} value={props.used} aria-label={`storage: ${props.text}`} />}
      </Show>
    </span>
  );
}

// A project: its repositories, members, robots and settings, one tab each (the tab is in the
// URL, so each is linkable and Back works).
import { A, useParams, useSearchParams } from '@solidjs/router';
import { createResource, Match, Show, Switch } from 'solid-js';
import { get, seg } from '../api';
import { Loaded, Tabs } from '../components';
import { bytes } from '../format';
import { isAdmin } from '../session';
import type { Project } from '../types';
import { ProjectMembers } from './project_members';
import { ProjectRepositories } from './project_repositories';
import { ProjectRobots } from './project_robots';
import { ProjectSettings } from './project_settings';

const manage = (project: Project) => isAdmin() || project.can?.manage === true;

export function ProjectPage() {
  const params = useParams();
  const [search] = useSearchParams();
  const [project, { refetch }] = createResource(() => params.name ?? false, (name) => get<Project>(`projects/${seg(name)}`));
  const tab = () => (search.tab as string) ?? 'repositories';
  const base = () => `/projects/${seg(params.name ?? "")}`;
  return (
    <section>
      <nav class="crumbs" aria-label="Breadcrumb">
        <A href="/" end>
          Projects
        </A>{' '}
        / <span aria-current="page">{params.name}</span>
      </nav>
      <Loaded data={project}>
        {(p) => (
          <>
            <h1>
              {p().name} <span class={p().public ? 'pill public' : 'pill'}>{p().public ? 'public' : 'private'}</span>{' '}
              <Show when={p().kind !== 'hosted'}>
                <span class="pill">
                  {p().kind} of {p().upstream}
                </span>
              </Show>
            </h1>
            <p class="muted">
              {p().repositories} repositories, {bytes(p().bytes)}
              {p().quota_bytes !== null ? ` of ${bytes(p().quota_bytes)}` : ''}
            </p>
            <Tabs
              label="Project sections"
              current={tab()}
              tabs={[
                { id: 'repositories', label: 'Repositories', href: `${base()}` },
                ...(manage(p()) ? [{ id: 'members', label: 'Members', href: `${base()}?tab=members` }] : []),
                ...(manage(p()) ? [{ id: 'robots', label: 'Robots', href: `${base()}?tab=robots` }] : []),
                { id: 'settings', label: 'Settings', href: `${base()}?tab=settings` },
              ]}
            />
            <Switch>
              <Match when={tab() === 'members'}>
                <ProjectMembers project={p()} />
              </Match>
              <Match when={tab() === 'robots'}>
                <ProjectRobots project={p()} />
              </Match>
              <Match when={tab() === 'settings'}>
                <ProjectSettings project={p()} onChanged={refetch} />
              </Match>
              <Match when={true}>
                <ProjectRepositories project={p()} />
              </Match>
            </Switch>
          </>
        )}
      </Loaded>
    </section>
  );
}

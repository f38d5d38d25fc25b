// Berth's web UI. Hash routing (#/projects/...): the server serves one index.html at ui.path and
// needs no fallback route for deep links, a reload or a bookmark works under any ui.path, and
// repository names with slashes sit in the hash as they are.
import './app.css';
import { HashRouter, Route } from '@solidjs/router';
import { render } from 'solid-js/web';
import { Shell } from './shell';
import { ProjectsPage } from './pages/projects';
import { ProjectPage } from './pages/project';
import { RepositoryRoute } from './pages/repository';
import { SearchPage } from './pages/search';
import { AdminPage } from './pages/admin';
import { NotFound } from './pages/not_found';

render(
  () => (
    <HashRouter root={Shell}>
      <Route path="/" component={ProjectsPage} />
      <Route path="/projects/:name" component={ProjectPage} />
      <Route path="/repositories/*path" component={RepositoryRoute} />
      <Route path="/search" component={SearchPage} />
      <Route path="/admin" component={AdminPage} />
      <Route path="*" component={NotFound} />
    </HashRouter>
  ),
  document.getElementById('root')!,
);

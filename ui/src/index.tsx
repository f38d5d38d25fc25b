// Berth's web UI. Plain paths (/projects/team), not a #hash: the server answers every path under
// ui.path that is no file with index.html, and says where the UI lives in <meta name=berth-base>
// (empty at /), so the router works under any ui.path and links and bookmarks read naturally.
import './app.css';
import { Route, Router } from '@solidjs/router';
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
    <Router base={document.querySelector<HTMLMetaElement>('meta[name="berth-base"]')?.content ?? ''} root={Shell}>
      <Route path="/" component={ProjectsPage} />
      <Route path="/projects/:name" component={ProjectPage} />
      <Route path="/repositories/*path" component={RepositoryRoute} />
      <Route path="/search" component={SearchPage} />
      <Route path="/admin" component={AdminPage} />
      <Route path="*" component={NotFound} />
    </Router>
  ),
  document.getElementById('root')!,
);

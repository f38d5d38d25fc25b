import { A } from '@solidjs/router';

export function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no such page. <A href="/">Back to the projects</A>.
      </p>
    </section>
  );
}

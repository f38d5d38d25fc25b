// The command that pulls an image with each common client, copied with one click. Over plain
// HTTP each client is told so (docker needs the daemon's insecure-registries instead).
import { createSignal, For } from 'solid-js';
import { CopyButton } from './components';

const clients = ['docker', 'podman', 'skopeo', 'oras'] as const;
type Client = (typeof clients)[number];

function command(client: Client, image: string, plain: boolean): string {
  switch (client) {
    case 'docker':
      return `docker pull ${image}`;
    case 'podman':
      return `podman pull ${plain ? '--tls-verify=false ' : ''}${image}`;
    case 'skopeo':
      return `skopeo copy ${plain ? '--src-tls-verify=false ' : ''}docker://${image} oci-archive:image.tar`;
    case 'oras':
      return `oras pull ${plain ? '--plain-http ' : ''}${image}`;
  }
}

// reference: ":tag" or "@sha256:...".
export function PullCommands(props: { repository: string; reference: string }) {
  const [client, setClient] = createSignal<Client>('docker');
  const image = () => `${location.host}/${props.repository}${props.reference}`;
  const text = () => command(client(), image(), location.protocol === 'http:');
  return (
    <section class="pull" aria-labelledby="pull-title">
      <h2 id="pull-title">Pull</h2>
      <div class="segmented" role="group" aria-label="Client">
        <For each={clients}>
          {(c) => (
            <button type="button" aria-pressed={client() === c} onClick={() => setClient(c)}>
              {c}
            </button>
          )}
        </For>
      </div>
      <p class="copyline">
        <code data-testid="pull-command">{text()}</code>
        <CopyButton text={text()} label={`Copy the ${client()} pull command`} />
      </p>
    </section>
  );
}

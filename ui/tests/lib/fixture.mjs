// The registry the signed-in tests browse: users in every role, and real pushes of a
// multi-arch index, an image with history and labels, its signature and SBOM (referrers), a
// repository with more tags than one page, and repositories for the delete and retention tests.
import { adminPassword } from './berth.mjs';
import { Client } from './registry.mjs';

export const password = (user) => `${user}-Password-1`;
export const users = { owner: 'olive', maintainer: 'mona', writer: 'walt', reader: 'rita', other: 'max' };

export async function fill(berth) {
  const admin = new Client(berth.url, 'admin', adminPassword);
  for (const name of Object.values(users)) {
    await admin.api('POST', 'users', { name, password: password(name) }, 201);
  }
  await admin.api('POST', 'projects', { name: 'team' }, 201);
  await admin.api('POST', 'projects', { name: 'ret' }, 201);
  await admin.api('POST', 'projects', { name: 'scratch', public: true }, 201);
  const roles = { [users.owner]: 'owner', [users.maintainer]: 'maintainer', [users.writer]: 'writer', [users.reader]: 'reader' };
  for (const [user, role] of Object.entries(roles)) {
    await admin.api('PUT', `projects/team/members/${user}`, { role });
  }

  const index = await admin.pushIndex('team/web', 'v1', [{ arch: 'amd64' }, { arch: 'arm64', variant: 'v8' }]);
  await admin.pushManifest('team/web', 'latest', await manifestOf(admin, 'team/web', 'v1'));
  const image = await admin.pushImage('team/tools/cli', 'v1', {
    layers: 3,
    labels: { 'org.opencontainers.image.title': 'berth-cli', 'org.opencontainers.image.version': '1.0.0' },
  });
  await admin.pushImage('team/tools/cli', 'v2', { layers: 1 });
  const signature = await admin.pushReferrer('team/tools/cli', image, 'application/vnd.dev.cosign.artifact.sig.v1+json', 'signature bytes');
  const sbom = await admin.pushReferrer('team/tools/cli', image, 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}', {
    'org.example.sbom.format': 'spdx',
  });

  // 60 tags of one image: more than a page (50) of the tag table.
  const build = await admin.pushImage('team/many', 'build-1', { layers: 1 });
  const buildManifest = await manifestOf(admin, 'team/many', 'build-1');
  for (let i = 2; i <= 60; i++) {
    await admin.pushManifest('team/many', `build-${i}`, buildManifest);
  }
  await admin.pushImage('team/old', 'old-1', { layers: 1 });
  await admin.pushImage('team/old', 'old-2', { layers: 1 });
  for (const tag of ['r1', 'r2', 'r3']) {
    await admin.pushImage('ret/app', tag, { layers: 1 });
  }
  await admin.pushImage('scratch/thing', 'one', { layers: 1 });
  return { admin, index, image, signature, sbom, build };
}

async function manifestOf(client, repository, reference) {
  const response = await client.fetch('GET', `/v2/${repository}/manifests/${reference}`, {
    headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' },
    expect: 200,
  });
  return response.json();
}

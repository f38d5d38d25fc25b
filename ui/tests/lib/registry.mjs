// Real pushes over the registry API (/v2) from Node, and calls of the admin API (/api/v1) with
// Basic credentials: the content the browser tests look at, made the way clients make it.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const media = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
};

export const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export class Client {
  constructor(base, user, password) {
    this.base = base;
    this.auth = user ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : null;
  }

  async fetch(method, path, { body, headers = {}, expect } = {}) {
    const all = { ...headers };
    if (this.auth) {
      all.Authorization = this.auth;
    }
    const response = await fetch(`${this.base}${path}`, { method, headers: all, body, redirect: 'manual' });
    if (expect !== undefined && response.status !== expect) {
      throw new Error(`${method} ${path}: expected ${expect}, got ${response.status}: ${await response.text()}`);
    }
    return response;
  }

  async api(method, path, body, expect) {
    const response = await this.fetch(method, `/api/v1/${path}`, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    });
    const text = await response.text();
    if (expect !== undefined ? response.status !== expect : !response.ok) {
      throw new Error(`${method} /api/v1/${path}: got ${response.status}: ${text}`);
    }
    return text ? JSON.parse(text) : undefined;
  }

  async pushBlob(repository, bytes) {
    const digest = sha256(bytes);
    const head = await this.fetch('HEAD', `/v2/${repository}/blobs/${digest}`);
    if (head.status === 200) {
      return { digest, size: bytes.length };
    }
    const started = await this.fetch('POST', `/v2/${repository}/blobs/uploads/`, { expect: 202 });
    const location = new URL(started.headers.get('location'), this.base);
    location.searchParams.set('digest', digest);
    await this.fetch('PUT', location.pathname + location.search, {
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
      expect: 201,
    });
    return { digest, size: bytes.length };
  }

  async pushManifest(repository, reference, manifest) {
    const bytes = Buffer.from(JSON.stringify(manifest));
    await this.fetch('PUT', `/v2/${repository}/manifests/${reference}`, {
      body: bytes,
      headers: { 'Content-Type': manifest.mediaType },
      expect: 201,
    });
    return { digest: sha256(bytes), size: bytes.length, mediaType: manifest.mediaType };
  }

  // An image with real gzipped layers and a config with history, labels, env and a command.
  async pushImage(repository, tag, { layers = 2, arch = 'amd64', variant, labels = {}, layerBytes = 4096 } = {}) {
    const layerDescriptors = [];
    const diffIds = [];
    const history = [{ created: '2026-12-01T10:00:00Z', created_by: '/bin/sh -c #(nop) ENV PATH=/usr/bin', empty_layer: true }];
    for (let i = 0; i < layers; i++) {
      const raw = Buffer.concat([Buffer.from(`layer ${i} of ${repository}:${tag} `), randomBytes(layerBytes)]);
      const gz = gzipSync(raw);
      const blob = await this.pushBlob(repository, gz);
      layerDescriptors.push({ mediaType: media.layer, digest: blob.digest, size: blob.size });
      diffIds.push(sha256(raw));
      history.push({ created: '2026-12-01T10:00:0' + (i + 1) + 'Z', created_by: `/bin/sh -c make step-${i + 1}` });
    }
    const config = {
      created: '2026-12-01T10:00:09Z',
      architecture: arch,
      ...(variant ? { variant } : {}),
      os: 'linux',
      config: {
        Env: ['PATH=/usr/bin', 'APP_MODE=production'],
        Entrypoint: ['/app/server'],
        Cmd: ['--port', '8080'],
        WorkingDir: '/app',
        User: 'app',
        Labels: labels,
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history,
    };
    const configBlob = await this.pushBlob(repository, Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: media.manifest,
      config: { mediaType: media.config, digest: configBlob.digest, size: configBlob.size },
      layers: layerDescriptors,
    };
    return this.pushManifest(repository, tag, manifest);
  }

  async pushIndex(repository, tag, platforms) {
    const manifests = [];
    for (const p of platforms) {
      const image = await this.pushImage(repository, `${tag}-${p.arch}${p.variant ?? ''}`, { arch: p.arch, variant: p.variant, layers: 1 });
      manifests.push({
        mediaType: media.manifest,
        digest: image.digest,
        size: image.size,
        platform: { os: 'linux', architecture: p.arch, ...(p.variant ? { variant: p.variant } : {}) },
      });
    }
    return this.pushManifest(repository, tag, { schemaVersion: 2, mediaType: media.index, manifests });
  }

  // An artifact (signature, SBOM) whose subject is an image already pushed: what cosign and
  // oras attach, crafted by hand as no installed client pushes one.
  async pushReferrer(repository, subject, artifactType, content, annotations = {}) {
    const empty = await this.pushBlob(repository, Buffer.from('{}'));
    const blob = await this.pushBlob(repository, Buffer.from(content));
    const manifest = {
      schemaVersion: 2,
      mediaType: media.manifest,
      artifactType,
      config: { mediaType: media.empty, digest: empty.digest, size: empty.size },
      layers: [{ mediaType: 'application/octet-stream', digest: blob.digest, size: blob.size }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.opencontainers.image.created': '2026-12-02T08:00:00Z', ...annotations },
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return this.pushManifest(repository, sha256(bytes), manifest);
  }
}

// The JSON shapes of /api/v1 that the UI reads (see the README's API section).

export interface Session {
  access_control: boolean;
  signed_in: boolean;
  user: { name: string; admin: boolean } | null;
  csrf_token: string | null;
  version: string;
}

export interface Can {
  pull: boolean;
  push: boolean;
  delete: boolean;
  manage: boolean;
  admin: boolean;
}

export interface Project {
  name: string;
  public: boolean;
  created: number;
  kind: 'hosted' | 'proxy' | 'overlay';
  upstream: string | null;
  repositories: number;
  bytes: number;
  quota_bytes: number | null;
  quota_repositories: number | null;
  last_push: number | null;
  can?: Can;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface RepositoryRow {
  name: string;
  tags: number;
  bytes: number;
  last_push: number | null;
  last_pull: number | null;
  pulls: number;
}

export interface Repository extends RepositoryRow {
  project: string;
  manifests: number;
  can: Can;
}

export interface TagRow {
  tag: string;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  size: number;
  platforms: string[];
  pushed: number;
  last_pulled: number | null;
  pulls: number;
}

export interface Descriptor {
  digest: string;
  media_type: string;
  size: number;
}

export interface History {
  created: string | null;
  created_by: string;
  empty_layer: boolean;
  comment: string | null;
}

export interface ImageConfig extends Descriptor {
  created: string | null;
  os: string;
  architecture: string;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  working_dir: string | null;
  user: string | null;
  labels: Record<string, string>;
  history: History[];
}

export interface Referrer extends Descriptor {
  artifact_type: string | null;
  annotations: Record<string, string> | null;
}

export interface Manifest {
  digest: string;
  media_type: string;
  size: number;
  total_size: number;
  artifact_type: string | null;
  tags: string[];
  subject: string | null;
  annotations: Record<string, string> | null;
  pushed: number;
  kind: 'index' | 'image' | 'artifact';
  platforms?: (Descriptor & { os: string; architecture: string; variant: string | null })[];
  layers?: Descriptor[];
  config: ImageConfig | null;
  referrers: Referrer[];
}

export interface DeleteResult {
  deleted_tags: string[];
  deleted_manifests: string[];
  failed: { reference: string; code: string; message: string }[];
}

export interface Member {
  user: string;
  role: Role;
}

export type Role = 'reader' | 'writer' | 'maintainer' | 'owner';
export const roles: Role[] = ['reader', 'writer', 'maintainer', 'owner'];

export interface Robot {
  name: string;
  user: string;
  description: string;
  projects: { project: string; role: Role }[];
  created: number;
  revoked: boolean;
  expires: number | null;
  last_used: number | null;
  token?: string;
}

export interface User {
  name: string;
  admin: boolean;
  created: number;
}

export interface RetentionPolicy {
  enabled: boolean;
  schedule: string;
  include: string[];
  exclude: string[];
  match: 'any' | 'all';
  rules: { keep_last?: number; max_age_days?: number; not_pulled_days?: number };
}

export interface Settings {
  immutable_tags: string[];
  quota: { bytes: number | null; repositories: number | null };
  retention: RetentionPolicy | null;
}

export interface Usage {
  project: string;
  bytes: number;
  repositories: number;
  quota: { bytes: number | null; repositories: number | null };
}

export interface RetentionPlan {
  project: string;
  now: number;
  tags: {
    repository: string;
    tag: string;
    digest: string;
    pushed: number;
    last_pulled: number | null;
    reasons: string[];
  }[];
  manifests: { repository: string; digest: string }[];
  freed_blobs: number;
  freed_bytes: number;
}

export interface GcReport {
  dry_run: boolean;
  manifests_removed: number;
  links_removed: number;
  blobs_removed: number;
  files_swept: number;
  tombstones_finished: number;
  bytes_reclaimed: number;
  duration_ms: number;
  errors: unknown[];
}

export interface GcRun {
  started: number;
  finished: number;
  dry_run: boolean;
  by: string;
  report: GcReport;
}

export interface System {
  version: string;
  metadata: string;
  storage: string;
  projects: number;
  repositories: number;
  blobs: number;
  bytes: number;
  access_control: boolean;
}

export interface ProxyStats {
  project: string;
  kind: 'proxy' | 'overlay';
  upstream: string;
  manifest_hits: number;
  manifest_fetches: number;
  stale_serves: number;
  blob_fetches: number;
  blob_bytes_fetched: number;
  upstream_errors: number;
}

export interface SearchResult {
  repositories: { name: string; project: string }[];
  tags: { repository: string; tag: string; digest: string }[];
}

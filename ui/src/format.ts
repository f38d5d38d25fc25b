// How numbers, sizes and times read on every page.

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return '—';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return 'never';
  }
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 60) {
    return 'just now';
  }
  const steps: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
    [30 * 86400, 'month'],
    [365 * 86400, 'year'],
  ];
  let chosen = steps[0];
  for (const step of steps) {
    if (seconds >= step[0]) {
      chosen = step;
    }
  }
  const count = Math.floor(seconds / chosen[0]);
  return `${count} ${chosen[1]}${count === 1 ? '' : 's'} ago`;
}

export function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

export function quota(used: number, limit: number | null): string {
  return limit === null ? bytes(used) : `${bytes(used)} of ${bytes(limit)}`;
}

// Light or dark: the system's choice unless the user picked one, which is remembered in
// localStorage. The choice is an attribute on <html>; app.css holds the colours.
import { createSignal } from 'solid-js';

export type Theme = 'light' | 'dark';
const key = 'berth-theme';
const system = window.matchMedia('(prefers-color-scheme: dark)');

function stored(): Theme | null {
  const value = localStorage.getItem(key);
  return value === 'light' || value === 'dark' ? value : null;
}

const [theme, setThemeSignal] = createSignal<Theme>(stored() ?? (system.matches ? 'dark' : 'light'));

function apply(value: Theme) {
  document.documentElement.dataset.theme = value;
}

apply(theme());
system.addEventListener('change', (event) => {
  if (!stored()) {
    setThemeSignal(event.matches ? 'dark' : 'light');
    apply(theme());
  }
});

export { theme };

export function toggleTheme() {
  const next: Theme = theme() === 'dark' ? 'light' : 'dark';
  localStorage.setItem(key, next);
  setThemeSignal(next);
  apply(next);
}

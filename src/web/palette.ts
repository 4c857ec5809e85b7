/**
 * The colours of the app and its charts: Okabe & Ito's palette, distinguishable with the common
 * colour-vision deficiencies. Charts take series colours from `seriesColors()` in order; the
 * theme's own colours come from the CSS variables of theme.css.
 */

/** Series colours on a light background (first = default single series). */
export const SERIES_LIGHT = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'] as const;
/** On a dark background: the same hues, the dark ones swapped for legible ones. */
export const SERIES_DARK = ['#56B4E9', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#F0E442', '#FFFFFF', '#0072B2'] as const;

export function isDark(): boolean {
  const forced = document.documentElement.dataset.theme;
  if (forced === 'dark') return true;
  if (forced === 'light') return false;
  return window.matchMedia('(prefers-color-scheme: dark)').matches;
}

export function seriesColors(): readonly string[] {
  return isDark() ? SERIES_DARK : SERIES_LIGHT;
}

/** A CSS variable of the current theme (e.g. `--fg`, `--grid`), for canvas drawing. */
export function themeColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Runs `f` whenever the theme changes (system setting or the theme menu); returns the stop. */
export function onThemeChange(f: () => void): () => void {
  const mq = window.matchMedia('(prefers-color-scheme: dark)');
  mq.addEventListener('change', f);
  window.addEventListener('cdb-theme', f);
  return () => {
    mq.removeEventListener('change', f);
    window.removeEventListener('cdb-theme', f);
  };
}

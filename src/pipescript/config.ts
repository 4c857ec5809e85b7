export interface PipeScriptConfig {
  splitMax: number;
  stringMax: number;
  peekMax: number;
  /** Deepest nesting the parser accepts (it recurses per level). */
  maxNesting: number;
  /** Most stages in a script. */
  maxStages: number;
  disableTransforms: string[];
}

const DEFAULTS: PipeScriptConfig = { splitMax: 50000, stringMax: 1000000, peekMax: 100, maxNesting: 100, maxStages: 2000, disableTransforms: [] };

export const config: PipeScriptConfig = { ...DEFAULTS, disableTransforms: [] };

/** Process-wide settings (spec §8). 0 (or absent) means "use the default", as in the original config file. */
export function configurePipeScript(cfg: Partial<PipeScriptConfig>): void {
  for (const k of ['splitMax', 'stringMax', 'peekMax', 'maxNesting', 'maxStages'] as const) {
    const v = cfg[k];
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`pipescript ${k} must be a non-negative number`);
    config[k] = v === 0 ? DEFAULTS[k] : Math.floor(v);
  }
  if (cfg.disableTransforms !== undefined) config.disableTransforms = [...cfg.disableTransforms];
}
